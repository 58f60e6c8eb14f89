/** A timer trigger schedule: an NCRONTAB expression (`{second} {minute} {hour} {day} {month} {day-of-week}`, UTC) or a TimeSpan (`hh:mm:ss`). */
export interface Schedule {
  /** The first occurrence strictly after `after`. */
  next(after: Date): Date;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function field(text: string, min: number, max: number, names: string[] = [], offset = 0): Set<number> {
  const values = new Set<number>();
  const value = (v: string): number => {
    const named = names.indexOf(v.toLowerCase());
    const n = named >= 0 ? named + offset : Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`'${v}' is outside ${min}-${max}`);
    return n;
  };
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`step '${stepText}' must be a positive integer`);
    let lo = min;
    let hi = max;
    if (range !== '*') {
      const [a, b] = range.split('-');
      lo = value(a);
      hi = b === undefined ? (stepText === undefined ? lo : max) : value(b);
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return values;
}

/** Parses a timer schedule; the error names the expression and what is wrong with it. */
export function parseSchedule(expression: string): Schedule {
  const span = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(expression.trim());
  if (span) {
    const ms =
      ((Number(span[1] ?? 0) * 24 + Number(span[2])) * 3600 + Number(span[3]) * 60 + Number(span[4])) * 1000;
    if (ms <= 0) throw new Error(`Timer schedule '${expression}' is a zero TimeSpan: use at least 00:00:01.`);
    return { next: (after) => new Date(after.getTime() + ms) };
  }
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 6) {
    throw new Error(
      `Timer schedule '${expression}' must have 6 NCRONTAB fields ({second} {minute} {hour} {day} {month} {day-of-week}) or be a TimeSpan hh:mm:ss.`,
    );
  }
  let sets: Set<number>[];
  try {
    sets = [
      field(parts[0], 0, 59),
      field(parts[1], 0, 59),
      field(parts[2], 0, 23),
      field(parts[3], 1, 31),
      field(parts[4], 1, 12, MONTHS, 1),
      field(parts[5].replace(/\b7\b/g, '0'), 0, 6, DAYS),
    ];
  } catch (err) {
    throw new Error(`Timer schedule '${expression}' is invalid: ${(err as Error).message}.`);
  }
  const [sec, min, hour, dom, month, dow] = sets;
  const domAny = parts[3] === '*';
  const dowAny = parts[5] === '*';
  const dayMatches = (d: Date): boolean => {
    const a = dom.has(d.getUTCDate());
    const b = dow.has(d.getUTCDay());
    if (domAny) return b;
    if (dowAny) return a;
    return a || b;
  };
  return {
    next(after) {
      const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
      for (let guard = 0; guard < 500000; guard++) {
        if (!month.has(t.getUTCMonth() + 1)) {
          t.setUTCMonth(t.getUTCMonth() + 1, 1);
          t.setUTCHours(0, 0, 0);
        } else if (!dayMatches(t)) {
          t.setUTCDate(t.getUTCDate() + 1);
          t.setUTCHours(0, 0, 0);
        } else if (!hour.has(t.getUTCHours())) {
          t.setUTCHours(t.getUTCHours() + 1, 0, 0);
        } else if (!min.has(t.getUTCMinutes())) {
          t.setUTCMinutes(t.getUTCMinutes() + 1, 0);
        } else if (!sec.has(t.getUTCSeconds())) {
          t.setUTCSeconds(t.getUTCSeconds() + 1);
        } else {
          return t;
        }
      }
      throw new Error(`Timer schedule '${expression}' never fires.`);
    },
  };
}
