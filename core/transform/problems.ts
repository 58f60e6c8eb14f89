import type { Problem } from '../model';

/**
 * Collects problems, keeping at most `perCode` of each code so a manifest stays small on huge exports;
 * `list()` appends one summary line per code that was cut, with the count left out.
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

  get hasErrors(): boolean {
    return [...this.worst.values()].includes('error');
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
