import { app } from '@azure/functions';
import type { ChatExportService } from '../core/chatexport/service';
import type { PipelineDeps } from '../core/pipeline/deps';
import { createChatExportService } from './chatExportComposition';
import { readChatExportSettings, type ChatExportSettings } from './chatExportSettings';
import { createPipelineDeps } from './composition';
import { readSettings, type AppSettings } from './settings';

/** The chat export is off when its encryption key is not set: its routes say so instead of failing at start. */
const CHAT_EXPORT_OFF =
  'The chat export is not configured on this app: set CHAT_EXPORT_ENCRYPTION_KEY (32 random bytes, base64) and restart it.';

/** A request the app cannot serve as configured (the chat export switched off); HTTP 503 with the reason. */
export class NotConfiguredError extends Error {
  readonly status = 503;
}

/**
 * The app's settings, read and validated once when the app starts, and the services built from them on
 * first use (one Graph client, one ledger, one store per worker). A wrong setting stops the app at start
 * with an error that names it.
 */
export class AppRuntime {
  private deps?: Promise<PipelineDeps>;
  private chats?: Promise<ChatExportService>;

  constructor(
    readonly settings: AppSettings,
    readonly chatExportSettings: ChatExportSettings | undefined,
  ) {}

  /** Reads every setting the app uses from its environment (Function App settings, local.settings.json). */
  static fromEnvironment(env: NodeJS.ProcessEnv): AppRuntime {
    const settings = readSettings(env);
    const chatExport = env.CHAT_EXPORT_ENCRYPTION_KEY?.trim()
      ? readChatExportSettings(env, settings)
      : undefined;
    return new AppRuntime(settings, chatExport);
  }

  /** The migration's dependencies. */
  pipelineDeps(): Promise<PipelineDeps> {
    return (this.deps ??= retryable(createPipelineDeps(this.settings), () => (this.deps = undefined)));
  }

  /** The chat export's service; NotConfiguredError when the chat export is off. */
  chatExport(): Promise<ChatExportService> {
    const settings = this.chatExportSettings;
    if (!settings) return Promise.reject(new NotConfiguredError(CHAT_EXPORT_OFF));
    return (this.chats ??= retryable(createChatExportService(settings), () => (this.chats = undefined)));
  }
}

/** A failed build is not kept: the next call tries again (storage may have been briefly away). */
function retryable<T>(building: Promise<T>, forget: () => void): Promise<T> {
  building.catch(forget);
  return building;
}

let current: AppRuntime | undefined;

/** The running app's runtime; throws when called outside a started app. */
export function runtime(): AppRuntime {
  if (!current)
    throw new Error('The app has not started: its settings are read when the Functions host starts it.');
  return current;
}

app.hook.appStart(() => {
  current = AppRuntime.fromEnvironment(process.env);
});
app.hook.appTerminate(() => {
  current = undefined;
});
