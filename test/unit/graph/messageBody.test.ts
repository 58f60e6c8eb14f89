import { buildImportMessage, messageIdFor } from '../../../core/graph';
import type { PlannedMessage } from '../../../core/model';

const planned = (over: Partial<PlannedMessage> = {}): PlannedMessage => ({
  seq: 0,
  key: '1503435956.000247',
  createdDateTime: '2017-08-22T21:05:56.000Z',
  author: { sourceUserId: 'U1', displayName: 'Ana <Ops> & Co', kind: 'user' },
  html: '<p>hi <img src="../hostedContents/img1/$value"></p>',
  hostedContents: [{ temporaryId: 'img1', contentType: 'image/png', name: 'a.png', exportPath: 'x/a.png' }],
  files: [],
  ...over,
});

describe('buildImportMessage', () => {
  it('posts as the matched user with the planned time, body and inline image bytes', () => {
    const body = buildImportMessage(
      planned(),
      { entraId: 'e-1', displayName: 'Ana' },
      new Map([['img1', Buffer.from('PNG')]]),
    );
    expect(body).toEqual({
      createdDateTime: '2017-08-22T21:05:56.000Z',
      from: { user: { id: 'e-1', displayName: 'Ana', userIdentityType: 'aadUser' } },
      body: { contentType: 'html', content: '<p>hi <img src="../hostedContents/img1/$value"></p>' },
      hostedContents: [
        { '@microsoft.graph.temporaryId': 'img1', contentBytes: 'UE5H', contentType: 'image/png' },
      ],
    });
  });

  it('names the original author, escaped, when posted as the fallback account', () => {
    const body = buildImportMessage(
      planned({ hostedContents: [] }),
      { fallback: { entraId: 'fb', displayName: 'Migration Bot' } },
      new Map(),
    );
    expect(body.from.user).toEqual({ id: 'fb', displayName: 'Migration Bot', userIdentityType: 'aadUser' });
    expect(body.body.content).toBe(
      '<p><em>Originally posted by Ana &lt;Ops&gt; &amp; Co</em></p><p>hi <img src="../hostedContents/img1/$value"></p>',
    );
    expect(body).not.toHaveProperty('hostedContents');
  });

  it('links uploaded files as reference attachments and makes sure the body references each', () => {
    const body = buildImportMessage(
      planned({
        hostedContents: [],
        html: '<p>see</p><attachment id="f1"></attachment>',
        files: [
          { attachmentId: 'f1', name: 'a.pdf' },
          { attachmentId: 'f2', name: 'b.txt' },
        ],
      }),
      { entraId: 'e', displayName: 'E' },
      new Map(),
      new Map([
        ['f1', 'https://sp/a.pdf'],
        ['f2', 'https://sp/b.txt'],
      ]),
    );
    expect(body.attachments).toEqual([
      { id: 'f1', contentType: 'reference', contentUrl: 'https://sp/a.pdf', name: 'a.pdf' },
      { id: 'f2', contentType: 'reference', contentUrl: 'https://sp/b.txt', name: 'b.txt' },
    ]);
    expect(body.body.content).toBe(
      '<p>see</p><attachment id="f1"></attachment><attachment id="f2"></attachment>',
    );
  });

  it('refuses to build a body with an inline image or file it cannot send, naming it', () => {
    expect(() => buildImportMessage(planned(), { entraId: 'e', displayName: 'E' }, new Map())).toThrow(
      /1503435956\.000247: no bytes for inline image img1 \(a\.png\)/,
    );
    expect(() =>
      buildImportMessage(
        planned({ hostedContents: [], files: [{ attachmentId: 'f9', name: 'z.zip' }] }),
        { entraId: 'e', displayName: 'E' },
        new Map(),
      ),
    ).toThrow(/file z\.zip \(f9\) has no uploaded URL/);
  });
});

describe('messageIdFor', () => {
  it('is the epoch milliseconds of the createdDateTime', () => {
    expect(messageIdFor('2017-08-22T21:05:56.247Z')).toBe('1503435956247');
    expect(messageIdFor('1970-01-01T00:00:00.001Z')).toBe('1');
  });

  it('rejects what is not a date-time', () => {
    expect(() => messageIdFor('yesterday')).toThrow(/'yesterday' is not an ISO 8601 date-time/);
  });
});
