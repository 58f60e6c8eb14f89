/** The local Teams sandbox: a Graph v1.0 server that enforces the import API's rules. */
export { startSandbox, type SandboxHandle, type SandboxOptions, type RequestLogEntry } from './server';
export { sandboxUserFor, userIdForEmail, sandboxUserSchema, type SandboxUser } from './state';
export {
  parseFaults,
  decideFault,
  refusesMessage,
  refusesChat,
  type FaultSpec,
  type FaultRule,
  type FaultKind,
} from './faults';
export type { SandboxDump, DumpTeam, DumpChannel, DumpMessage } from './dump';
export type { Route, RouteContext, RouteResponse } from './router';
export { MESSAGE_SIZE_LIMIT, HOSTED_CONTENT_LIMIT, messageSize } from './rules';
export { generatedBytes, SLACK_FILES_PREFIX, type ServedFile, type SlackFilesOptions } from './slackFiles';
export {
  SANDBOX_SLACK_TOKEN,
  SLACK_API_PREFIX,
  type SlackApiCall,
  type SlackApiOptions,
  type SlackRateLimit,
} from './slackApi';
