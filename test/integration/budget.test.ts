import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { CreationRecord } from '../../core/state/creationRecord';
import { LeaseSlots, type LeaseSlotsOptions } from '../../core/state/leaseSlots';
import { startAzurite, type AzuriteHandle } from '../../devhost/azurite';

describe('the tenant budget in the app storage (Azurite)', () => {
  let azurite: AzuriteHandle;
  let container: ContainerClient;
  let key = 0;
  beforeAll(async () => {
    azurite = await startAzurite();
    container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('budget');
    await container.createIfNotExists();
  });
  afterAll(async () => {
    await azurite.stop();
  });

  /** A fake clock for the holders' own time (leases themselves run on the storage service's clock). */
  const fakeClock = () => {
    const clock = { at: Date.now(), slept: [] as number[] };
    return {
      clock,
      now: () => clock.at,
      sleep: async (ms: number) => {
        clock.slept.push(ms);
        clock.at += ms;
      },
    };
  };
  const slots = (extra: Partial<LeaseSlotsOptions> = {}): LeaseSlots =>
    new LeaseSlots({
      container,
      key: `tenant-${++key}`,
      slots: 2,
      leaseSeconds: 15,
      windowMs: 1000,
      marginMs: 10,
      retryMs: 4000,
      ...extra,
    });

  it('lets as many channels post as there are slots, and the next one only when a slot is given back', async () => {
    const budget = slots();
    const a = await budget.take('team/a', 100);
    const b = await budget.take('team/b', 100);
    expect(a?.held()).toBe(true);
    expect(b?.held()).toBe(true);
    expect(await budget.take('team/c', 100)).toBeUndefined();
    await a!.release();
    expect(a!.held()).toBe(false);
    const c = await budget.take('team/c', 100);
    expect(c?.held()).toBe(true);
    await Promise.all([b!.release(), c!.release()]);
  });

  it('shares the slots between processes of one tenant, never between tenants', async () => {
    const shared = { key: `tenant-${++key}`, slots: 1 };
    const here = slots(shared);
    const there = slots(shared);
    const otherTenant = slots({ slots: 1 });
    const held = await here.take('team/a', 100);
    expect(held).toBeDefined();
    expect(await there.take('team/b', 100)).toBeUndefined();
    const elsewhere = await otherTenant.take('team/b', 100);
    expect(elsewhere).toBeDefined();
    await Promise.all([held!.release(), elsewhere!.release()]);
    const next = await there.take('team/b', 100);
    expect(next).toBeDefined();
    await next!.release();
  });

  it('gives a free slot to the waiting channel with the most messages left, from whichever process', async () => {
    const shared = { key: `tenant-${++key}`, slots: 1 };
    const here = slots(shared);
    const there = slots(shared);
    const holding = await here.take('team/a', 50);
    expect(await there.take('team/long', 900)).toBeUndefined();
    expect(await here.take('team/short', 20)).toBeUndefined();
    await holding!.release();
    expect(await here.take('team/short', 20)).toBeUndefined();
    expect(await here.take('team/a', 40)).toBeUndefined();
    const long = await there.take('team/long', 900);
    expect(long?.held()).toBe(true);
    await long!.release();
    expect(await here.take('team/short', 20)).toBeUndefined();
    const next = await here.take('team/a', 40);
    expect(next).toBeDefined();
    await next!.release();
  });

  it('forgets a waiting channel that stopped asking', async () => {
    const { clock, now, sleep } = fakeClock();
    const budget = slots({ slots: 1, now, sleep, retryMs: 1000 });
    const holding = await budget.take('team/a', 10);
    expect(await budget.take('team/gone', 500)).toBeUndefined();
    await holding!.release();
    expect(await budget.take('team/b', 10)).toBeUndefined();
    clock.at += 4001;
    const b = await budget.take('team/b', 10);
    expect(b).toBeDefined();
    await b!.release();
  });

  it('makes a new holder wait a window after the last one gave the slot back, but not the same channel', async () => {
    const { clock, now, sleep } = fakeClock();
    const budget = slots({ slots: 1, now, sleep });
    const first = await budget.take('team/a', 100);
    await first!.release();
    const again = await budget.take('team/a', 100);
    expect(clock.slept).toEqual([]);
    await again!.release();
    const other = await budget.take('team/b', 100);
    expect(clock.slept).toEqual([1010]);
    await other!.release();
  });

  it('stops counting a slot as held a third of its lease before it could lapse without a renewal', async () => {
    const { clock, now, sleep } = fakeClock();
    const budget = slots({ slots: 1, now, sleep, leaseSeconds: 21 });
    const slot = await budget.take('team/a', 100);
    clock.at += 14_000 - 1;
    expect(slot!.held()).toBe(true);
    clock.at += 1;
    expect(slot!.held()).toBe(false);
    await slot!.release();
  });

  it('refuses a lease outside the storage service range, naming it', () => {
    expect(() => slots({ leaseSeconds: 10 })).toThrow('A slot lease lasts 15 to 60 seconds, got 10.');
  });

  it('admits creations from several processes within the limit in every window', async () => {
    const { now, sleep } = fakeClock();
    const shared = {
      container,
      key: `tenant-${++key}`,
      limits: { team: { limit: 3, windowMs: 1000 }, channel: { limit: 20, windowMs: 10_000 } },
      marginMs: 20,
      now,
      sleep,
    };
    const processes = [new CreationRecord(shared), new CreationRecord(shared)];
    const admitted: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        admitted.push(await processes[i % 2].admit('team'));
      }),
    );
    expect(admitted).toHaveLength(8);
    for (const t of admitted)
      expect(admitted.filter((o) => o >= t && o < t + 1000).length).toBeLessThanOrEqual(3);
  });
});
