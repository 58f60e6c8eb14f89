import { startSandbox, type SandboxHandle } from '../../../sandbox';
import { USERS, call, createMigrationTeam } from './client';

const groups = (sb: SandboxHandle, filter: string) =>
  call(sb, 'GET', `/groups?$filter=${encodeURIComponent(filter)}`);

describe('sandbox: GET /groups, filtered as Graph parses $filter', () => {
  let sb: SandboxHandle;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    sb = await startSandbox({ users: USERS, ratePerChannel: 0 });
    for (const name of ["O'Neil & Sons", 'Sales', 'Sales EMEA'])
      ids[name] = await createMigrationTeam(sb, name);
  });
  afterAll(async () => {
    await sb.stop();
  });

  it('lists every team as a Microsoft 365 group provisioned as a team', async () => {
    const all = await call(sb, 'GET', '/groups');
    expect(all.status).toBe(200);
    expect(all.body.value.map((g: { id: string }) => g.id).sort()).toEqual(Object.values(ids).sort());
    for (const g of all.body.value)
      expect(g).toMatchObject({ groupTypes: ['Unified'], resourceProvisioningOptions: ['Team'] });
  });

  it('finds a team by its name with the quote written twice, and only the team of that name', async () => {
    const found = await groups(
      sb,
      "resourceProvisioningOptions/Any(x:x eq 'Team') and displayName eq 'O''Neil & Sons'",
    );
    expect(found.status).toBe(200);
    expect(found.body.value.map((g: { id: string }) => g.id)).toEqual([ids["O'Neil & Sons"]]);

    const sales = await groups(sb, "displayName eq 'sales'");
    expect(sales.body.value.map((g: { displayName: string }) => g.displayName)).toEqual(['Sales']);
    const none = await groups(sb, "displayName eq 'Sales ' or displayName eq 'Marketing'");
    expect(none.body.value).toEqual([]);
    const prefixed = await groups(sb, "startswith(displayName,'Sales')");
    expect(prefixed.body.value.map((g: { displayName: string }) => g.displayName).sort()).toEqual([
      'Sales',
      'Sales EMEA',
    ]);
  });

  it('matches no group for a value the collection does not hold', async () => {
    const found = await groups(sb, "resourceProvisioningOptions/any(t:t eq 'Yammer')");
    expect([found.status, found.body.value]).toEqual([200, []]);
  });

  it("refuses what it does not support with Graph's error codes", async () => {
    const cases: [string, string][] = [
      ["nickname eq 'x'", 'Request_BadRequest'],
      ["displayName ne 'Sales'", 'Request_UnsupportedQuery'],
      ["resourceProvisioningOptions/all(x:x eq 'Team')", 'Request_UnsupportedQuery'],
      ["resourceProvisioningOptions eq 'Team'", 'Request_UnsupportedQuery'],
      ["displayName eq 'O'Neil'", 'BadRequest'],
      ["displayName eq 'unterminated", 'BadRequest'],
      ["resourceProvisioningOptions/any(x:y eq 'Team')", 'BadRequest'],
    ];
    for (const [filter, code] of cases) {
      const answer = await groups(sb, filter);
      expect({ filter, status: answer.status, code: answer.body.error.code }).toEqual({
        filter,
        status: 400,
        code,
      });
      expect(typeof answer.body.error.message).toBe('string');
    }
  });
});
