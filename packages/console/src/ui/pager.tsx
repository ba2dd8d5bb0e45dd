/**
 * Previous / next for a cursor-paged list: `cursors` is the stack of cursors
 * that led to the current page (`[null]` on the first). Shown only when there
 * is somewhere to go.
 */
export function Pager({
  cursors,
  setCursors,
  nextCursor,
  loading,
  labels = ['Previous', 'Next'],
}: {
  cursors: readonly (string | null)[];
  setCursors: (update: (c: (string | null)[]) => (string | null)[]) => void;
  nextCursor: string | null | undefined;
  loading: boolean;
  /** What the buttons say (a log reads better as `Newer` / `Older`). */
  labels?: readonly [string, string];
}) {
  if (cursors.length <= 1 && !nextCursor) return null;
  return (
    <nav className="pager" aria-label="Pages">
      <button
        type="button"
        className="secondary"
        disabled={cursors.length <= 1 || loading}
        onClick={() => setCursors((c) => c.slice(0, -1))}
      >
        {labels[0]}
      </button>
      <span className="muted">Page {cursors.length}</span>
      <button
        type="button"
        className="secondary"
        disabled={!nextCursor || loading}
        onClick={() => nextCursor && setCursors((c) => [...c, nextCursor])}
      >
        {labels[1]}
      </button>
    </nav>
  );
}
