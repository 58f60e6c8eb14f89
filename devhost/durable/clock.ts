/** Time source and timer scheduler for the durable engine: real time, or a virtual clock for tests. */
export interface DurableClock {
  readonly kind: 'real' | 'virtual';
  /** Current orchestration time. */
  now(): Date;
  /** Calls `fire` at (or, on the virtual clock, when the host is idle, in due order) `fireAt`; returns a canceller. */
  schedule(fireAt: Date, fire: () => void): () => void;
  /** Called by the engine when no work is in flight: the virtual clock fires its earliest timer. */
  onIdle(): void;
  /** Number of timers not yet fired. */
  pending(): number;
  /** Cancels every pending timer. */
  dispose(): void;
}

const MAX_SET_TIMEOUT_MS = 2 ** 31 - 1;

/** A clock on wall time: timers are `setTimeout`s, re-armed when longer than Node allows. */
export function realClock(): DurableClock {
  const handles = new Set<NodeJS.Timeout>();
  let count = 0;
  return {
    kind: 'real',
    now: () => new Date(),
    schedule(fireAt, fire) {
      let handle: NodeJS.Timeout | undefined;
      let live = true;
      count++;
      const arm = (): void => {
        if (!live) return;
        const wait = fireAt.getTime() - Date.now();
        if (wait <= 0) {
          live = false;
          count--;
          fire();
          return;
        }
        handle = setTimeout(
          () => {
            if (handle) handles.delete(handle);
            arm();
          },
          Math.min(wait, MAX_SET_TIMEOUT_MS),
        );
        handles.add(handle);
      };
      setImmediate(arm);
      return () => {
        if (!live) return;
        live = false;
        count--;
        if (handle) {
          clearTimeout(handle);
          handles.delete(handle);
        }
        handle = undefined;
        fire = () => undefined;
      };
    },
    onIdle: () => undefined,
    pending: () => count,
    dispose() {
      handles.forEach((h) => clearTimeout(h));
      handles.clear();
      count = 0;
    },
  };
}

/**
 * A virtual clock: time starts at `start` and only moves when a timer fires. Timers fire immediately, in due
 * order, whenever the host has nothing else to do, and each firing advances `now` to the timer's due time.
 */
export function virtualClock(start: Date = new Date()): DurableClock {
  let current = start.getTime();
  let seq = 0;
  const timers = new Map<number, { at: number; seq: number; fire: () => void }>();
  return {
    kind: 'virtual',
    now: () => new Date(current),
    schedule(fireAt, fire) {
      const id = seq++;
      timers.set(id, { at: fireAt.getTime(), seq: id, fire });
      return () => {
        timers.delete(id);
      };
    },
    onIdle() {
      let next: [number, { at: number; seq: number; fire: () => void }] | undefined;
      for (const entry of timers) {
        if (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq)) {
          next = entry;
        }
      }
      if (!next) return;
      timers.delete(next[0]);
      current = Math.max(current, next[1].at);
      next[1].fire();
    },
    pending: () => timers.size,
    dispose() {
      timers.clear();
    },
  };
}
