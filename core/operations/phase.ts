/** What a migration's phase is once its orchestration's runtime status is known. */
export function effectivePhase(
  runtimeStatus: string | undefined,
  customPhase: string | undefined,
  output: unknown,
  ledgerPhase?: string,
): string {
  if (runtimeStatus === 'Terminated') return 'cancelled';
  if (runtimeStatus === 'Failed') return 'failed';
  if (runtimeStatus === 'Completed') {
    const phase = (output as { phase?: unknown } | null | undefined)?.phase;
    return typeof phase === 'string' ? phase : (customPhase ?? 'completed');
  }
  if (runtimeStatus === 'Suspended') return 'suspended';
  return customPhase ?? ledgerPhase ?? 'pending';
}

/** Runtime statuses of an orchestration that has ended. */
export const ENDED = new Set(['Completed', 'Failed', 'Terminated']);
