// What every slice of the app store gets from createAppStore(): the store's
// set/get, the resolved options (timers, scheduling, fetch, the page
// location), the store's lifetime, and `internal`, the functions the slices
// offer each other (not actions: the UI never calls them).
//
// Slices are created in one go by the factory; `internal` is filled in as
// they are created and only called afterwards (at run time), so a slice may
// use another slice's internals whatever the creation order.

import type { StoreApi } from 'zustand/vanilla';
import type { Timers } from '../../connection/liveSocket.ts';
import type { AppState, AppStoreOptions } from '../store.ts';
import type { SourceInternal } from './source.ts';
import type { ViewInternal } from './view.ts';
import type { PlayInternal } from './play.ts';
import type { LiveInternal } from './live.ts';
import type { ServerInternal } from './server.ts';
import type { FindingsInternal } from './findings.ts';
import type { UiInternal } from './ui.ts';
import type { SearchInternal } from './search.ts';
import type { LinkInternal } from './link.ts';
import type { RemoteInternal } from './remote.ts';

export type SetState = StoreApi<AppState>['setState'];
export type GetState = StoreApi<AppState>['getState'];

/** The store's options with their defaults applied. */
export interface StoreEnv {
  readonly options: AppStoreOptions;
  readonly timers: Timers;
  /** Coalesces live publishes (one per frame). */
  readonly schedule: (cb: () => void) => void;
  readonly loc: { protocol: string; host: string; search: string };
  readonly fetch: typeof fetch;
  /** Runs background analysis slices. */
  readonly runTask: (cb: () => void) => void;
  /** Runs a recording's first analysis slice (after the first paint). */
  readonly startAnalysis: (cb: () => void) => void;
}

export type Internals = SourceInternal &
  ViewInternal &
  PlayInternal &
  LiveInternal &
  ServerInternal &
  FindingsInternal &
  UiInternal &
  SearchInternal &
  LinkInternal &
  RemoteInternal;

export interface SliceContext {
  readonly set: SetState;
  readonly get: GetState;
  readonly env: StoreEnv;
  readonly internal: Internals;
  /** dispose() ran: timers and callbacks that fire later do nothing. */
  readonly life: { disposed: boolean };
}

/** What a slice factory returns: its initial state, its actions, its internals. */
export interface Slice<S, A, I = object> {
  state: S;
  actions: A;
  internal: I;
}
