import { shortDay } from '../lib/format.js';

export interface Series {
  readonly key: string;
  readonly label: string;
  readonly className: string;
}

/**
 * Stacked daily bars as plain SVG (no chart library). The numbers are also in
 * a table below the picture for screen readers and for reading exact values.
 */
export function BarChart({
  title,
  days,
  series,
}: {
  title: string;
  days: readonly { at: string; counts: Record<string, number> }[];
  series: readonly Series[];
}) {
  const width = 560;
  const height = 180;
  const pad = { left: 36, right: 8, top: 10, bottom: 24 };
  const totals = days.map((d) => series.reduce((s, x) => s + (d.counts[x.key] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const step = (width - pad.left - pad.right) / Math.max(1, days.length);
  const bar = Math.max(2, step * 0.7);
  const y = (v: number) => pad.top + (height - pad.top - pad.bottom) * (1 - v / max);
  const sum = totals.reduce((a, b) => a + b, 0);
  return (
    <figure className="chart">
      <figcaption>
        {title}{' '}
        <span className="muted">
          ({sum} in {days.length} days)
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`${title}: ${sum} in ${days.length} days`}
      >
        <line x1={pad.left} x2={width - pad.right} y1={y(0)} y2={y(0)} className="axis" />
        <text x={pad.left - 4} y={y(max) + 4} className="tick" textAnchor="end">
          {max}
        </text>
        <text x={pad.left - 4} y={y(0)} className="tick" textAnchor="end">
          0
        </text>
        {days.map((d, i) => {
          let base = 0;
          const x = pad.left + i * step + (step - bar) / 2;
          return (
            <g key={d.at}>
              {series.map((s) => {
                const v = d.counts[s.key] ?? 0;
                if (v === 0) return null;
                const top = y(base + v);
                const rect = (
                  <rect key={s.key} x={x} y={top} width={bar} height={y(base) - top} className={s.className}>
                    <title>{`${shortDay(d.at)}: ${v} ${s.label}`}</title>
                  </rect>
                );
                base += v;
                return rect;
              })}
              {(i % Math.ceil(days.length / 7) === 0 || i === days.length - 1) && (
                <text x={x + bar / 2} y={height - 6} className="tick" textAnchor="middle">
                  {shortDay(d.at)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <div className="legend">
        {series.map((s) => (
          <span key={s.key}>
            <span className={`swatch ${s.className}`} aria-hidden="true" /> {s.label}
          </span>
        ))}
      </div>
      <table className="sr-only">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">Day</th>
            {series.map((s) => (
              <th key={s.key} scope="col">
                {s.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {days.map((d) => (
            <tr key={d.at}>
              <th scope="row">{shortDay(d.at)}</th>
              {series.map((s) => (
                <td key={s.key}>{d.counts[s.key] ?? 0}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
