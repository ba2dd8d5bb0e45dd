/** A timestamp for people: local date and time, to the minute. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** "in 3 days" / "2 hours ago". */
export function relative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const ms = new Date(iso).getTime() - now;
  const abs = Math.abs(ms);
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
  ];
  const fmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  for (const [unit, size] of units) {
    if (abs >= size || unit === 'minute') return fmt.format(Math.round(ms / size), unit);
  }
  return iso;
}

export const shortDay = (iso: string): string =>
  new Date(iso).toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
