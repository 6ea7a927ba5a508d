// Loading data for a page: the latest answer for a key, with errors and a reload.
import { useCallback, useEffect, useRef, useState } from "react";
import type { Page } from "./api";

export interface Loaded<T> {
  data?: T;
  error: Error | null;
  loading: boolean;
  reload(): void;
}

/** Runs `load` whenever `key` changes (or on reload) and keeps its latest answer. */
export function useLoad<T>(key: string, load: () => Promise<T>): Loaded<T> {
  const loader = useRef(load);
  useEffect(() => {
    loader.current = load;
  });
  const [tick, setTick] = useState(0);
  const [state, setState] = useState<{ data?: T; error: Error | null; loading: boolean }>({
    error: null,
    loading: true,
  });
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    loader.current().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: Error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export interface Paged<T> extends Loaded<Page<T>> {
  canPrev: boolean;
  canNext: boolean;
  next(): void;
  prev(): void;
}

/** One page of a list at a time, walked with the API's iterators; back to the first page when
 * `key` (the filters) changes. */
export function usePaged<T>(key: string, fetchPage: (iterator: string | null) => Promise<Page<T>>): Paged<T> {
  const [walk, setWalk] = useState<{ key: string; stack: (string | null)[] }>({ key, stack: [null] });
  const stack = walk.key === key ? walk.stack : [null];
  const iterator = stack[stack.length - 1] ?? null;
  const loaded = useLoad(`${key}\u0000${iterator ?? ""}`, () => fetchPage(iterator));
  const page = loaded.data;
  return {
    ...loaded,
    canPrev: stack.length > 1,
    canNext: !!page && !page.done && !!page.iterator,
    next: () => page?.iterator && setWalk({ key, stack: [...stack, page.iterator] }),
    prev: () => setWalk({ key, stack: stack.length > 1 ? stack.slice(0, -1) : stack }),
  };
}

/** Runs an action on a click or a submit, keeping whether it is busy and its error. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}
