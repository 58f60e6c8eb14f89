import type { z } from 'zod';

/** A request body's validation errors as the routes answer them: `field.path: message`, one a line. */
export function issueMessages(error: z.ZodError): string[] {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
}
