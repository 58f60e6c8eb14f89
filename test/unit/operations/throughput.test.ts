import { everyMinute, renderThroughputChart } from '../../../core/operations/chart';
import {
  addToSeries,
  decodeSeries,
  encodeSeries,
  etaSeconds,
  measuredRate,
  sumSeries,
} from '../../../core/operations/throughput';

const MIN = 60_000;
const t0 = Date.UTC(2025, 0, 15, 9, 0, 0);

describe('measured throughput', () => {
  it('adds posts to the minute they were made in and keeps only the last minutes asked for', () => {
    let series = addToSeries([], t0 + 10_000, 3);
    series = addToSeries(series, t0 + 50_000, 2);
    series = addToSeries(series, t0 + MIN + 1, 4);
    expect(series).toEqual([
      { minute: t0, messages: 5 },
      { minute: t0 + MIN, messages: 4 },
    ]);
    series = addToSeries(series, t0 + 3 * MIN, 1, 3);
    expect(series.map((b) => b.minute)).toEqual([t0 + MIN, t0 + 3 * MIN]);
    expect(decodeSeries(encodeSeries(series))).toEqual(series);
    expect(decodeSeries('not json')).toEqual([]);
  });

  it('keeps at most 360 minutes on a channel row', () => {
    let series = addToSeries([], t0, 1);
    for (let m = 1; m < 400; m++) series = addToSeries(series, t0 + m * MIN, 1);
    expect(series).toHaveLength(360);
    expect(series[0].minute).toBe(t0 + 40 * MIN);
  });

  it('sums channels minute by minute', () => {
    expect(
      sumSeries([
        [{ minute: t0, messages: 2 }],
        [
          { minute: t0, messages: 3 },
          { minute: t0 + MIN, messages: 1 },
        ],
      ]),
    ).toEqual([
      { minute: t0, messages: 5 },
      { minute: t0 + MIN, messages: 1 },
    ]);
  });

  it('measures the rate over the last five minutes and the time left at that rate', () => {
    const series = [
      { minute: t0, messages: 600 },
      { minute: t0 + MIN, messages: 300 },
      { minute: t0 + 2 * MIN, messages: 60 },
    ];
    // From 09:00:00 to 09:02:30 the run posted 960 messages in 150 seconds.
    expect(measuredRate(series, t0 + 2 * MIN + 30_000)).toBeCloseTo(960 / 150, 6);
    // Ten minutes later nothing was posted in the window: no rate, no time left.
    expect(measuredRate(series, t0 + 12 * MIN)).toBeUndefined();
    expect(etaSeconds(640, 6.4)).toBe(100);
    expect(etaSeconds(0, 6.4)).toBeUndefined();
    expect(etaSeconds(10, undefined)).toBeUndefined();
  });
});

describe('the throughput chart', () => {
  const series = [
    { minute: t0, messages: 120 },
    { minute: t0 + 2 * MIN, messages: 300 },
  ];

  it('draws one point a minute, the quiet minute at zero and the busiest at the top', () => {
    expect(everyMinute(series).map((b) => b.messages)).toEqual([120, 0, 300]);
    const svg = renderThroughputChart(series).text;
    const points = /<polyline[^>]*\spoints="([^"]+)"/
      .exec(svg)![1]
      .split(' ')
      .map((p) => p.split(',').map(Number));
    expect(points).toHaveLength(3);
    const ys = points.map(([, y]) => y);
    // SVG y grows downwards: 300/min is the highest point, the empty minute the lowest.
    expect(ys[2]).toBeLessThan(ys[0]);
    expect(ys[1]).toBeGreaterThan(ys[0]);
    expect(points.map(([x]) => x)).toEqual([...points.map(([x]) => x)].sort((a, b) => a - b));
  });

  it('says in words what it shows, with the figures in a table', () => {
    const svg = renderThroughputChart(series).text;
    expect(svg).toMatch(/role="img"\s+aria-labelledby="throughput-title throughput-desc"/);
    expect(svg).toContain('peak 5.0/s at 09:02');
    expect(svg).toContain('average 2.3/s');
    expect(svg).toContain('(420 messages in 3 minutes)');
    expect(svg).toMatch(/<th scope="row">09:01<\/th>\s*<td>0<\/td>/);
  });

  it('marks each point, so a run of one minute shows as a dot', () => {
    const svg = renderThroughputChart([{ minute: t0, messages: 60 }]).text;
    expect(svg.match(/<circle /g)).toHaveLength(1);
    expect(renderThroughputChart(series).text.match(/<circle /g)).toHaveLength(3);
  });

  it('says that nothing was posted yet instead of drawing an empty chart', () => {
    expect(renderThroughputChart([]).text).toMatch(/No messages posted yet/);
  });
});
