/** The Teams import client: Graph client with this project's middleware, pacing, typed calls, message bodies. */
export * from './auth';
export * from './client';
export * from './errors';
export * from './files';
export * from './messageBody';
export * from './middleware/context';
export * from './middleware/retry';
export * from './middleware/telemetry';
export * from './pacing';
export * from './teamsImport';
export * from './users';
