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

  it('splits a channel map naming an existing team by id into a migration into that team, and refuses prestage with it', () => {
    const id = '0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0';
    const channelMap = `general,${id},General\nrandom,New Team,Random\n`;
    const parsed = parseStartRequest({ ...SOURCE, migrationId: 'ws', channelMap });
    expect(parsed.ok && parsed.workspace!.teams.map((t) => [t.input.migrationId, t.input.team])).toEqual([
      ['ws.t1', { visibility: 'private', id: id.toLowerCase() }],
      ['ws.t2', { visibility: 'private', displayName: 'New Team' }],
    ]);
    const prestaged = parseStartRequest({ ...SOURCE, channelMap, prestage: true });
    expect(!prestaged.ok && prestaged.errors.join('\n')).toMatch(
      new RegExp(`prestage cannot be used with a channel map that names an existing team \\(${id}\\)`),
    );
    expect(parseStartRequest({ ...SOURCE, channelMap: 'random,New Team,Random\n', prestage: true }).ok).toBe(
      true,
    );
  });
});
