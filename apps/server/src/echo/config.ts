// The reference servers' options live with the session layer; kept here for its importers.
export * from '../session/config.ts';
