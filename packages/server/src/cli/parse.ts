import { InvalidArgumentError } from 'commander';

const UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `--expires`: an RFC 3339 time, or a duration from now such as `30d`, `12h`, `90m`, `2w`. */
export function parseExpiry(value: string, nowMs = Date.now()): string {
  const duration = /^(\d{1,6})([mhdw])$/.exec(value);
  if (duration)
    return new Date(nowMs + Number(duration[1]) * (UNITS[duration[2] as string] ?? 0)).toISOString();
  if (!Number.isNaN(Date.parse(value)) && /^\d{4}-\d{2}-\d{2}/.test(value))
    return new Date(value).toISOString();
  throw new InvalidArgumentError('expected an RFC 3339 time or a duration like 30d, 12h, 90m');
}

/** `--tag key=value`, repeatable. */
export function collectTag(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at < 1) throw new InvalidArgumentError('expected key=value');
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError('expected a positive integer');
  return Number(value);
}

/** Builds a query string from defined values; arrays repeat the key. */
export function queryString(
  params: Readonly<Record<string, string | number | readonly string[] | undefined>>,
): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) search.append(key, v);
    else search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** A repeatable option collected into a list. */
export function collectList(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
