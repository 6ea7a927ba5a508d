// Reading the live feed (`GET /api/v1/stream`) with fetch, since EventSource cannot send the
// Authorization header: the body goes through the SSE parser as it arrives, and a dropped
// connection is opened again after the server's `retry:` delay with `Last-Event-ID`, so the
// events missed meanwhile come first. Pausing the screen keeps receiving into a bounded buffer.
import { useEffect, useRef, useState } from "react";
import { ApiError } from "../api";
import { useSession } from "../session-context";
import { SseParser, type SseEvent } from "../sse";

/** The most events listed; older ones leave the list. */
export const MAX_ROWS = 200;
/** The most events held while the screen is paused; past it the oldest are dropped (counted). */
export const MAX_WAITING = 1000;

/** One event as listed. */
export interface FeedEntry {
  /** A key unique on this page. */
  key: number;
  type: string;
  /** The `id:` it came with (`""` for those without). */
  id: string;
  /** The parsed `data`, or its text when it is not JSON. */
  data: unknown;
  receivedAt: number;
}

export type FeedStatus = "connecting" | "live" | "reconnecting" | "stopped";

/** What the list shows, and the buffer while paused. */
export interface FeedView {
  shown: FeedEntry[];
  waiting: FeedEntry[];
  dropped: number;
}

/** Adds `entries` (oldest first) to the view: to the list, newest first and at most
 * `MAX_ROWS`, or while paused to the buffer, at most `MAX_WAITING`. */
export function receive(view: FeedView, entries: FeedEntry[], paused: boolean): FeedView {
  if (paused) {
    const waiting = [...view.waiting, ...entries];
    const over = Math.max(0, waiting.length - MAX_WAITING);
    return { ...view, waiting: waiting.slice(over), dropped: view.dropped + over };
  }
  return { ...view, shown: [...[...entries].reverse(), ...view.shown].slice(0, MAX_ROWS) };
}

/** Lets the buffer into the list. */
export function release(view: FeedView): FeedView {
  return { shown: [...[...view.waiting].reverse(), ...view.shown].slice(0, MAX_ROWS), waiting: [], dropped: 0 };
}

let nextKey = 0;

function entryOf(e: SseEvent): FeedEntry {
  let data: unknown = e.data;
  try {
    data = JSON.parse(e.data);
  } catch {
    // Not JSON: listed as text.
  }
  nextKey += 1;
  return { key: nextKey, type: e.type, id: e.id, data, receivedAt: Date.now() };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = window.setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      window.clearTimeout(timer);
      resolve();
    });
  });
}

/** The feed for `query` (`?app=…&outcome=…`), from now; a new query starts a new list. */
export function useFeed(query: string, paused: boolean) {
  const { api } = useSession();
  const [view, setView] = useState<FeedView>({ shown: [], waiting: [], dropped: 0 });
  const [status, setStatus] = useState<FeedStatus>("connecting");
  const [error, setError] = useState<Error | null>(null);
  const pausedRef = useRef(paused);
  useEffect(() => {
    pausedRef.current = paused;
    if (!paused) setView(release);
  }, [paused]);

  useEffect(() => {
    const ctrl = new AbortController();
    let lastId = "";
    let retryMs = 2000;
    setView({ shown: [], waiting: [], dropped: 0 });
    const run = async () => {
      while (!ctrl.signal.aborted) {
        setStatus(lastId ? "reconnecting" : "connecting");
        try {
          const headers: Record<string, string> = { Accept: "text/event-stream" };
          if (lastId) headers["Last-Event-ID"] = lastId;
          const resp = await api.open(`/stream${query}`, headers, ctrl.signal);
          const body = resp.body;
          if (!body) throw new Error("the stream has no body");
          setStatus("live");
          setError(null);
          const parser = new SseParser();
          parser.lastEventId = lastId;
          const reader = body.getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            const events = parser.pushBytes(value);
            lastId = parser.lastEventId;
            retryMs = parser.retry ?? retryMs;
            if (events.length > 0) {
              const entries = events.map(entryOf);
              setView((v) => receive(v, entries, pausedRef.current));
            }
          }
        } catch (e) {
          if (ctrl.signal.aborted) return;
          setError(e as Error);
          // A refused filter or token will be refused again: stop and say why.
          if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 429) {
            setStatus("stopped");
            return;
          }
        }
        if (ctrl.signal.aborted) return;
        setStatus("reconnecting");
        await sleep(retryMs, ctrl.signal);
      }
    };
    void run();
    return () => ctrl.abort();
  }, [api, query]);

  const clear = () => setView({ shown: [], waiting: [], dropped: 0 });
  return { view, status, error, clear };
}
