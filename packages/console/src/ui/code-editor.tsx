import { useId, useRef } from 'react';

export interface LineMark {
  readonly line: number;
  readonly message: string;
}

/**
 * A plain-text code editor: a textarea with line numbers, and problem markers
 * at their lines (also listed in text below it, linked by aria-describedby).
 */
export function CodeEditor({
  label,
  value,
  onChange,
  readOnly,
  marks,
}: {
  label: string;
  value: string;
  onChange: (text: string) => void;
  readOnly: boolean;
  marks: readonly LineMark[];
}) {
  const gutter = useRef<HTMLDivElement>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const id = useId();
  const lines = Math.max(1, value.split('\n').length);
  const marked = new Map<number, string>();
  for (const m of marks)
    marked.set(m.line, marked.has(m.line) ? `${marked.get(m.line)}; ${m.message}` : m.message);
  const goTo = (line: number) => {
    const el = area.current;
    if (!el) return;
    const start =
      value
        .split('\n')
        .slice(0, line - 1)
        .join('\n').length + (line > 1 ? 1 : 0);
    el.focus();
    el.setSelectionRange(start, start);
  };
  return (
    <div className="code-editor">
      <label htmlFor={id} className="sr-only">
        {label}
      </label>
      <div className="code-frame">
        <div className="gutter" ref={gutter} aria-hidden="true">
          {Array.from({ length: lines }, (_, i) => {
            const n = i + 1;
            const message = marked.get(n);
            return (
              <div key={n} className={message ? 'mark' : undefined} title={message}>
                {message ? '●' : ''}
                {n}
              </div>
            );
          })}
        </div>
        <textarea
          id={id}
          ref={area}
          className="code"
          value={value}
          readOnly={readOnly}
          spellCheck={false}
          autoCapitalize="off"
          autoComplete="off"
          wrap="off"
          rows={Math.min(24, Math.max(8, lines + 1))}
          aria-invalid={marks.length > 0 ? true : undefined}
          aria-describedby={marks.length > 0 ? `${id}-problems` : undefined}
          onChange={(e) => onChange(e.target.value)}
          onScroll={(e) => {
            if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
          }}
          onKeyDown={(e) => {
            // Tab indents; Escape then Tab leaves the editor (keyboard users are never trapped)
            if (e.key === 'Tab' && !e.shiftKey && !readOnly && !e.currentTarget.dataset.escaped) {
              e.preventDefault();
              const el = e.currentTarget;
              const { selectionStart: s, selectionEnd: t } = el;
              onChange(`${value.slice(0, s)}  ${value.slice(t)}`);
              requestAnimationFrame(() => el.setSelectionRange(s + 2, s + 2));
            } else if (e.key === 'Escape') {
              e.currentTarget.dataset.escaped = '1';
            } else {
              delete e.currentTarget.dataset.escaped;
            }
          }}
        />
      </div>
      {marks.length > 0 && (
        <ul id={`${id}-problems`} className="problems" data-testid="editor-problems">
          {marks.map((m) => (
            <li key={`${m.line}:${m.message}`}>
              <button type="button" className="link" onClick={() => goTo(m.line)}>
                Line {m.line}
              </button>
              : {m.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
