import { describe, expect, it } from 'vitest';
import {
	parseMessage,
	pushResult,
	shortTime,
	socketUrl,
	summarize,
	toJobResult,
	type JobResult
} from './jobs';

const job = (jobId: string, status = 'succeeded'): JobResult => ({
	key: `${jobId}:${status}`,
	jobId,
	strategyId: '1',
	status,
	summary: '',
	at: ''
});

describe('parseMessage', () => {
	it('reads the worker\'s job_result message', () => {
		const result = parseMessage(
			JSON.stringify({
				type: 'job_result',
				job_id: 7,
				strategy_id: 3,
				status: 'done',
				result: { total_return: 0.0123, max_drawdown: 0.021, trades: 12, final_equity: 10123 }
			})
		);
		expect(result).toMatchObject({
			jobId: '7',
			strategyId: '3',
			status: 'done',
			summary: 'return +1.23%, max drawdown 2.10%, 12 trades'
		});
	});

	it('reads a failed job with its error', () => {
		const result = parseMessage(
			JSON.stringify({ type: 'job_result', job_id: 8, strategy_id: 3, status: 'failed', error: 'no data' })
		);
		expect(result).toMatchObject({ jobId: '8', status: 'failed', summary: 'no data' });
	});

	it('reads a result wrapped in an envelope', () => {
		const result = parseMessage(
			JSON.stringify({ type: 'job_result', job: { id: 'a1', status: 'failed', error: 'boom' } })
		);
		expect(result).toMatchObject({ jobId: 'a1', status: 'failed', summary: 'boom' });
	});

	it('ignores frames that are not jobs', () => {
		expect(parseMessage('not json')).toBeNull();
		expect(parseMessage(JSON.stringify({ type: 'hello' }))).toBeNull();
		expect(toJobResult([1, 2])).toBeNull();
	});
});

describe('summarize', () => {
	it('shows unknown result shapes as JSON', () => {
		expect(summarize({ pnl: 1.5 })).toBe('{"pnl":1.5}');
	});

	it('signs losses', () => {
		expect(summarize({ total_return: -0.5 })).toBe('return -50.00%');
	});
});

describe('pushResult', () => {
	it('puts the newest result first and replaces an older entry for the same job', () => {
		const feed = pushResult([job('1', 'queued'), job('2')], job('1', 'succeeded'));
		expect(feed.map((j) => j.key)).toEqual(['1:succeeded', '2:succeeded']);
	});

	it('keeps at most the limit', () => {
		const feed = pushResult([job('1'), job('2')], job('3'), 2);
		expect(feed.map((j) => j.jobId)).toEqual(['3', '1']);
	});
});

describe('socketUrl', () => {
	it('uses wss on https pages and ws on http pages, on the same host', () => {
		expect(socketUrl({ protocol: 'https:', host: 'app.peripheral.com' })).toBe(
			'wss://app.peripheral.com/ws'
		);
		expect(socketUrl({ protocol: 'http:', host: '127.0.0.1:5173' })).toBe(
			'ws://127.0.0.1:5173/ws'
		);
	});
});

describe('shortTime', () => {
	it('shows the UTC time of day of an ISO timestamp', () => {
		expect(shortTime('2026-11-27T00:50:45.418883Z')).toBe('00:50:45 UTC');
	});

	it('keeps text it cannot parse', () => {
		expect(shortTime('soon')).toBe('soon');
		expect(shortTime('')).toBe('');
	});
});
