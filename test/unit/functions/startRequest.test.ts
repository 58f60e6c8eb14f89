import { parseStartRequest } from '../../../functions/migrations';

const SOURCE = { source: { path: '/exports/acme.zip' } };

describe('the start request: private channels and an existing team', () => {
  it('carries "privateChannels": true into the migration options', () => {
    const parsed = parseStartRequest({ ...SOURCE, privateChannels: true });
    expect(parsed.ok && parsed.input.options.privateChannels).toBe(true);
    const off = parseStartRequest(SOURCE);
    expect(off.ok && off.input.options.privateChannels).toBeUndefined();
    expect(parseStartRequest({ ...SOURCE, privateChannels: 'yes' })).toEqual({
      ok: false,
      errors: ['privateChannels: privateChannels must be true or false'],
    });
  });

  it('takes an existing team by "team": {"id"}, and a migration into another team gets another default id', () => {
    const id = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const into = parseStartRequest({ ...SOURCE, team: { id } });
    const created = parseStartRequest(SOURCE);
    expect(into.ok && into.input.team.id).toBe(id);
    expect(into.ok && created.ok && into.input.migrationId !== created.input.migrationId).toBe(true);
  });

  it('refuses prestage with an existing team, saying why', () => {
    const parsed = parseStartRequest({
      ...SOURCE,
      team: { id: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' },
      prestage: true,
    });
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.errors.join('\n')).toMatch(/prestage cannot be used with team\.id/);
  });
});
