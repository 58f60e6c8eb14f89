/** The chat export's public surface: rendering, names, secrets, consent, ports, the exporter and its adapters. */
export * from './types';
export * from './sanitize';
export * from './events';
export * from './render';
export * from './names';
export * from './crypto';
export * from './consent';
export * from './ports';
export * from './conversation';
export * from './exporter';
export * from './graphSource';
export * from './staging';
export * from './oneDriveSink';
