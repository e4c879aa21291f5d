// The link slice (issue 19 §5): the URL that reopens the current view
// (state/deepLink.ts), "Copy link", and opening what a page URL asks for:
// a server recording with its cursor, view and session (a recording that is
// gone fails with NOT_FOUND, "… is not on this server"), or the live stream
// with a session selected.

import { linkSearch, parseLink, type LinkFocus } from '../deepLink.ts';
import type { Slice, SliceContext } from './context.ts';

export interface LinkActions {
  /** The URL that reopens this view, or null (a local file, nothing open). */
  linkUrl(): string | null;
  /** Put linkUrl() on the clipboard; says so (or why not) in a toast. */
  copyLink(): Promise<boolean>;
  /** Open what a page's query string asks for; false when it asks for nothing. */
  openLink(search: string): boolean;
}

export interface LinkInternal {
  /** Restore a link's cursor, view and session on the trace just opened. */
  applyFocus(f: LinkFocus): void;
}

function defaultClipboard(): { writeText(text: string): Promise<void> } | null {
  return typeof navigator !== 'undefined' && navigator.clipboard ? navigator.clipboard : null;
}

export function createLinkSlice(ctx: SliceContext): Slice<object, LinkActions, LinkInternal> {
  const { get, env, internal } = ctx;

  const linkUrl = (): string | null => {
    const s = get();
    const src = s.source;
    const q = linkSearch(
      {
        source: src.kind === 'recording' ? { kind: src.kind, id: src.id } : { kind: src.kind },
        // Links name events of the whole trace (a window's cursor is local).
        cursor: internal.toGlobal(s.cursor),
        viewStartNs: s.viewStartNs,
        viewEndNs: s.viewEndNs,
        selectedSession: s.selectedSession,
      },
      env.loc.search,
    );
    if (q === null) return null;
    const path = (env.loc as { pathname?: string }).pathname ?? '/';
    return `${env.loc.protocol}//${env.loc.host}${path}${q}`;
  };

  const applyFocus = (f: LinkFocus): void => {
    const s = get();
    const trace = s.trace;
    if (!trace || trace.count === 0) return;
    const a = s.actions;
    if (f.session !== null) a.selectSession(f.session);
    if (f.view) a.setView(f.view.startNs, f.view.endNs);
    if (f.cursor !== null) {
      const total = s.remote ? s.remote.events : trace.count;
      if (f.cursor < total) {
        if (s.remote) void a.seekEvent(f.cursor, { reveal: f.view === null });
        else a.setCursor(f.cursor, { reveal: f.view === null });
      } else {
        internal.toast({
          tone: 'info',
          title: `The link's event #${f.cursor} is past the end`,
          detail: `This recording holds ${total.toLocaleString('en-US')} events.`,
        });
      }
    }
  };

  return {
    state: {},
    actions: {
      linkUrl,
      copyLink: async () => {
        const url = linkUrl();
        if (url === null) {
          internal.toast({
            tone: 'info',
            title: 'No link for a local file',
            detail: 'Only a server recording or the live stream can be linked.',
          });
          return false;
        }
        const clip =
          env.options.clipboard === undefined ? defaultClipboard() : env.options.clipboard;
        try {
          if (!clip) throw new Error('this browser gives no clipboard here');
          await clip.writeText(url);
          internal.toast({ tone: 'info', title: 'Link copied', detail: url });
          return true;
        } catch (e) {
          internal.toast({
            tone: 'error',
            title: 'Could not copy the link',
            detail: `${e instanceof Error ? e.message : String(e)}. The link: ${url}`,
          });
          return false;
        }
      },
      openLink: (search) => {
        const f = parseLink(search);
        const a = get().actions;
        if (f.recording !== null) {
          void a.openRecording(
            { id: f.recording, name: f.recording, bytes: 0, createdAt: 0 },
            { focus: f },
          );
          return true;
        }
        if (f.live && f.session !== null) {
          if (get().source.kind !== 'live') a.connectLive();
          a.selectSession(f.session);
          return true;
        }
        return false;
      },
    },
    internal: { applyFocus },
  };
}
