// The fault switches live with the session layer both servers share; kept here for its importers.
export * from '../session/faults.ts';
