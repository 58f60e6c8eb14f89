import type { Problem } from '../model';

/** A {@link ProblemLog}'s state as JSON: what it kept, how many of each code it saw, and their worst severity. */
export interface ProblemLogState {
  perCode: number;
  kept: Problem[];
  counts: Record<string, number>;
  worst: Record<string, Problem['severity']>;
}

/** A problem to add between the kept problems of a merged state: before `kept[at]` (at the end when `at` is past it). */
export interface ProblemInsert {
  at: number;
  problem: Problem;
}

/**
 * Collects problems, keeping at most `perCode` of each code so a manifest stays small on huge exports;
 * `list()` appends one summary line per code that was cut, with the count left out. Logs exported in turn
 * (`state()`) and merged in the same order (`merge`) give exactly the list one log fed every problem would.
 */
export class ProblemLog {
  private readonly kept: Problem[] = [];
  private readonly counts = new Map<string, number>();
  private readonly worst = new Map<string, Problem['severity']>();

  constructor(private readonly perCode = 50) {}

  add(...problems: Problem[]): void {
    for (const p of problems) {
      const n = (this.counts.get(p.code) ?? 0) + 1;
      this.counts.set(p.code, n);
      if (p.severity === 'error' || !this.worst.has(p.code)) this.worst.set(p.code, p.severity);
      if (n <= this.perCode) this.kept.push(p);
    }
  }

  /** How many problems are kept so far: the position the next kept one takes. */
  get size(): number {
    return this.kept.length;
  }

  get hasErrors(): boolean {
    return [...this.worst.values()].includes('error');
  }

  /** The log's state, JSON-serializable and bounded by `perCode` per code. */
  state(): ProblemLogState {
    return {
      perCode: this.perCode,
      kept: [...this.kept],
      counts: Object.fromEntries(this.counts),
      worst: Object.fromEntries(this.worst),
    };
  }

  /**
   * Adds what another log collected, as if its problems had been added here in their order, with `inserts`
   * (in order of `at`) added where they fell among its kept problems. Both logs must keep the same `perCode`.
   */
  merge(state: ProblemLogState, inserts: ProblemInsert[] = []): void {
    if (state.perCode !== this.perCode)
      throw new Error(
        `ProblemLog.merge: a log keeping ${state.perCode} problems per code cannot merge into one keeping ${this.perCode}`,
      );
    let next = 0;
    const keptOfCode = new Map<string, number>();
    for (let at = 0; at <= state.kept.length; at++) {
      while (next < inserts.length && (inserts[next].at <= at || at === state.kept.length))
        this.add(inserts[next++].problem);
      if (at === state.kept.length) break;
      const p = state.kept[at];
      keptOfCode.set(p.code, (keptOfCode.get(p.code) ?? 0) + 1);
      this.add(p);
    }
    for (const [code, n] of Object.entries(state.counts)) {
      const dropped = n - (keptOfCode.get(code) ?? 0);
      if (dropped > 0) this.counts.set(code, (this.counts.get(code) ?? 0) + dropped);
      const worst = state.worst[code];
      if (worst && (worst === 'error' || !this.worst.has(code))) this.worst.set(code, worst);
    }
  }

  list(): Problem[] {
    const out = [...this.kept];
    for (const [code, n] of [...this.counts].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (n > this.perCode)
        out.push({
          severity: this.worst.get(code)!,
          code,
          message: `${n - this.perCode} more '${code}' problems not listed (${n} in all).`,
        });
    }
    return out;
  }
}
