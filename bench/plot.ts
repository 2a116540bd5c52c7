/**
 * One self-contained SVG per benchmark scenario: calls per second over the run against the
 * limit's average rate (own admitted calls, the foreign client's admitted calls stacked on top,
 * 429s marked below the axis), and the publish → applied latency of every live event. Pure: it
 * turns a ScenarioResult into text; `run.ts` writes the files.
 */
import type { ScenarioResult } from './result.ts';

/** Drawing size of one panel, in SVG user units. */
const PANEL = { width: 760, height: 220 } as const;
/** Room for axis labels around a panel. */
const MARGIN = { left: 56, right: 16, top: 34, bottom: 34 } as const;
/** Gap between the two panels. */
const PANEL_GAP = 26;
/** Colours: own calls, foreign calls, 429s, the limit, live latency, the 5 s live target. */
const COLOUR = {
  own: '#2b6cb0',
  foreign: '#a0aec0',
  rateLimited: '#c53030',
  limit: '#2f855a',
  live: '#6b46c1',
  target: '#dd6b20',
  axis: '#4a5568',
} as const;
/** The live-latency target drawn as a line (p99 < 5 s). */
const LIVE_TARGET_MS = 5_000;
const MS_PER_SECOND = 1_000;

/** What the plot needs besides the result: the limit's average rate and the live cadence. */
export interface PlotSettings {
  /** Limit ÷ window, in calls per second (the line a paced sync should run just under). */
  readonly limitPerSecond: number;
  /** Interval between live events, in ms (the live panel's x axis). */
  readonly liveIntervalMs: number;
}

/** The SVG document of one scenario. */
export function renderScenarioSvg(result: ScenarioResult, settings: PlotSettings): string {
  const width = MARGIN.left + PANEL.width + MARGIN.right;
  const panelHeight = MARGIN.top + PANEL.height + MARGIN.bottom;
  const height = panelHeight * 2 + PANEL_GAP;
  const title = `${result.name}: ${result.calls} calls, ${result.rateLimited} × 429, ${(
    result.durationMs / MS_PER_SECOND
  ).toFixed(1)} s`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ratePanel(result, settings, 0),
    livePanel(result, settings, panelHeight + PANEL_GAP),
    '</svg>',
    '',
  ].join('\n');
}

/** Calls per second: own (blue) and foreign (grey) stacked, 429s (red) below the axis. */
function ratePanel(result: ScenarioResult, settings: PlotSettings, top: number): string {
  const { ownOk, own429, foreignOk } = result.timeline;
  const seconds = Math.max(ownOk.length, 1);
  const peak = Math.max(
    settings.limitPerSecond * 1.25,
    ...ownOk.map((own, i) => own + (foreignOk[i] ?? 0)),
  );
  const maxRateLimited = Math.max(1, ...own429);
  const x = (second: number) => MARGIN.left + (second / seconds) * PANEL.width;
  const y0 = top + MARGIN.top + PANEL.height * 0.85;
  const yRate = (rate: number) => y0 - (rate / peak) * PANEL.height * 0.85;
  const y429 = (count: number) => y0 + (count / maxRateLimited) * PANEL.height * 0.15;
  const barWidth = Math.max(PANEL.width / seconds - 0.5, 0.5);
  const bars: string[] = [];
  ownOk.forEach((own, second) => {
    const foreign = foreignOk[second] ?? 0;
    const left = x(second).toFixed(1);
    if (own > 0) bars.push(rect(left, yRate(own), barWidth, y0 - yRate(own), COLOUR.own));
    if (foreign > 0) {
      bars.push(
        rect(
          left,
          yRate(own + foreign),
          barWidth,
          yRate(own) - yRate(own + foreign),
          COLOUR.foreign,
        ),
      );
    }
    const limited = own429[second] ?? 0;
    if (limited > 0)
      bars.push(rect(left, y0, barWidth, y429(limited) - y0, COLOUR.rateLimited, '429'));
  });
  const limitY = yRate(settings.limitPerSecond).toFixed(1);
  return [
    `<g class="rate">`,
    label(
      MARGIN.left,
      top + MARGIN.top - 12,
      `calls per second (limit ${formatRate(settings.limitPerSecond)}/s; own blue, foreign grey, 429s red below the axis)`,
    ),
    ...bars,
    `<line class="limit" x1="${MARGIN.left}" x2="${MARGIN.left + PANEL.width}" y1="${limitY}" y2="${limitY}" stroke="${COLOUR.limit}" stroke-dasharray="6 3"/>`,
    axes(top, y0, seconds, peak, 's since the first call'),
    `</g>`,
  ].join('\n');
}

/** Publish → applied latency of each live event, with the 5 s target line. */
function livePanel(result: ScenarioResult, settings: PlotSettings, top: number): string {
  const latencies = result.live.latenciesMs;
  const spanS = Math.max((latencies.length * settings.liveIntervalMs) / MS_PER_SECOND, 1);
  const peakS = Math.max(LIVE_TARGET_MS, ...latencies) / MS_PER_SECOND;
  const y0 = top + MARGIN.top + PANEL.height;
  const x = (index: number) =>
    MARGIN.left + ((index * settings.liveIntervalMs) / MS_PER_SECOND / spanS) * PANEL.width;
  const y = (ms: number) => y0 - (ms / MS_PER_SECOND / peakS) * PANEL.height;
  const points = latencies.map((ms, i) => `${x(i).toFixed(1)},${y(ms).toFixed(1)}`).join(' ');
  const targetY = y(LIVE_TARGET_MS).toFixed(1);
  const heading =
    latencies.length === 0
      ? 'live events: none published during this scenario'
      : `live events, publish → applied (p50 ${formatSeconds(result.live.p50)}, p99 ${formatSeconds(result.live.p99)}; target 5 s)`;
  return [
    `<g class="live">`,
    label(MARGIN.left, top + MARGIN.top - 12, heading),
    latencies.length > 0
      ? `<polyline class="latency" points="${points}" fill="none" stroke="${COLOUR.live}" stroke-width="1.2"/>`
      : '',
    `<line class="target" x1="${MARGIN.left}" x2="${MARGIN.left + PANEL.width}" y1="${targetY}" y2="${targetY}" stroke="${COLOUR.target}" stroke-dasharray="6 3"/>`,
    axes(top, y0, spanS, peakS, 's since the first live event'),
    `</g>`,
  ].join('\n');
}

/** The x axis at `y0` with ticks every tenth of `xMax`, and the y axis with its top value. */
function axes(top: number, y0: number, xMax: number, yMax: number, xTitle: string): string {
  const ticks: string[] = [];
  const step = niceStep(xMax / 10);
  for (let value = 0; value <= xMax; value += step) {
    const tx = MARGIN.left + (value / xMax) * PANEL.width;
    ticks.push(
      `<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${y0}" y2="${y0 + 4}" stroke="${COLOUR.axis}"/>`,
      `<text x="${tx.toFixed(1)}" y="${y0 + 15}" text-anchor="middle" fill="${COLOUR.axis}">${value}</text>`,
    );
  }
  const yTop = top + MARGIN.top;
  return [
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + PANEL.width}" y1="${y0}" y2="${y0}" stroke="${COLOUR.axis}"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${yTop}" y2="${y0}" stroke="${COLOUR.axis}"/>`,
    `<text x="${MARGIN.left - 6}" y="${yTop + 4}" text-anchor="end" fill="${COLOUR.axis}">${formatRate(yMax)}</text>`,
    `<text x="${MARGIN.left - 6}" y="${y0 + 4}" text-anchor="end" fill="${COLOUR.axis}">0</text>`,
    ...ticks,
    `<text x="${MARGIN.left + PANEL.width}" y="${y0 + 28}" text-anchor="end" fill="${COLOUR.axis}">${escapeXml(xTitle)}</text>`,
  ].join('\n');
}

/** 1, 2 or 5 times a power of ten, at least `raw` (and at least 1). */
function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= raw) return Math.max(factor * power, 1);
  return Math.max(10 * power, 1);
}

function rect(
  x: string,
  y: number,
  width: number,
  height: number,
  fill: string,
  className?: string,
): string {
  const cls = className ? ` class="${className}"` : '';
  return `<rect${cls} x="${x}" y="${y.toFixed(1)}" width="${width.toFixed(2)}" height="${Math.max(height, 0).toFixed(1)}" fill="${fill}"/>`;
}

function label(x: number, y: number, text: string): string {
  return `<text x="${x}" y="${y}" fill="${COLOUR.axis}" font-size="12">${escapeXml(text)}</text>`;
}

function formatRate(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function formatSeconds(ms: number): string {
  return Number.isFinite(ms) ? `${(ms / MS_PER_SECOND).toFixed(2)} s` : '—';
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** A file name for a scenario's plot: `sync W=4 foreign` → `sync-w4-foreign.svg`. */
export function plotFileName(scenario: string): string {
  const slug = scenario
    .toLowerCase()
    .replace(/=/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return `${slug}.svg`;
}
