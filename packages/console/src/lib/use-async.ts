import { type DependencyList, useCallback, useEffect, useRef, useState } from 'react';

export interface AsyncState<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  /** True once a load has taken long enough to deserve a visible indicator. */
  readonly slow: boolean;
  reload(): void;
}

/** Show a spinner only for calls that take longer than this, so fast pages do not flicker. */
const SLOW_MS = 250;

/**
 * Runs `load` when `deps` change and on `reload()`; keeps the last data while
 * reloading. Answers of a superseded run are dropped.
 */
export function useAsync<T>(load: () => Promise<T>, deps: DependencyList): AsyncState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [slow, setSlow] = useState(false);
  const [tick, setTick] = useState(0);
  const run = useRef(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller's deps decide when to load again
  useEffect(() => {
    const id = ++run.current;
    setLoading(true);
    setError(null);
    const timer = window.setTimeout(() => {
      if (run.current === id) setSlow(true);
    }, SLOW_MS);
    load().then(
      (value) => {
        if (run.current !== id) return;
        setData(value);
        setLoading(false);
        setSlow(false);
      },
      (e: unknown) => {
        if (run.current !== id) return;
        setError(e);
        setLoading(false);
        setSlow(false);
      },
    );
    return () => window.clearTimeout(timer);
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, slow, reload };
}

/** Calls `reload` every `ms` while mounted: a list that shows new items without the user reloading. */
export function useEvery(ms: number, reload: () => void): void {
  useEffect(() => {
    const timer = window.setInterval(reload, ms);
    return () => window.clearInterval(timer);
  }, [ms, reload]);
}
