import { type AnchorHTMLAttributes, type MouseEvent, useEffect, useState } from 'react';

/** The console lives under this path; client-side routes are below it. */
export const BASE = '/console';

function currentPath(): string {
  const path = window.location.pathname;
  const rest = path.startsWith(BASE) ? path.slice(BASE.length) : path;
  return rest === '' ? '/' : rest;
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => {
  for (const l of listeners) l();
});

/** Goes to a console route (`/agents/agt_…`, optionally with `?query`). */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = `${BASE}${to}`;
  if (options.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  for (const l of listeners) l();
  window.scrollTo(0, 0);
}

/** The current route: path below /console and its query parameters; re-renders on navigation. */
export function useLocation(): { path: string; search: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }, []);
  return { path: currentPath(), search: new URLSearchParams(window.location.search) };
}

/** Replaces the query string of the current route without adding a history entry. */
export function setSearch(params: URLSearchParams): void {
  const s = params.toString();
  navigate(`${currentPath()}${s ? `?${s}` : ''}`, { replace: true });
}

/** An anchor for a console route: a real link (open in a new tab works), handled without a reload. */
export function Link({
  to,
  children,
  ...rest
}: { to: string } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'>) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={`${BASE}${to}`} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
