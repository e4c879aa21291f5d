// The echo server is started through the reference server's generic start-up
// (../session/server.ts, `app: 'echo'`, the default); kept here for its importers.
export * from '../session/server.ts';
