import t from 'tap';
import { defaultSettings, readSettings, SETTING_KEYS } from '../../src/config/settings.js';
import { readLayered } from '../../src/config/layout.js';
import { bundledConfig } from '../helpers/paths.js';
import path from 'node:path';
import { userError, writeTree } from './tree.js';

t.test('defaults without any file', async (t) => {
  const dir = writeTree(t, { 'jail.conf': '' });
  const s = readSettings(dir);
  t.same(s, defaultSettings());
  t.equal(s.backend, 'auto');
  t.equal(s.socketMode, 0o600);
  t.equal(s.metrics, '127.0.0.1:9464');
  t.ok(s.nftChainPriority < 0, 'the chain runs ahead of ordinary filter chains (priority 0)');
  t.equal(s.dbpurgeage, 86400);
});

t.test('logban.local overrides logban.conf', async (t) => {
  const dir = writeTree(t, {
    'logban.conf': '[logban]\nbackend = nftables\nthreads = 2\nmetrics = 127.0.0.1:9464\n',
    'logban.local': [
      '[logban]', 'backend = dry-run', 'state_dir = /tmp/x', 'socket = /tmp/x/s.sock', 'socket_mode = 0660',
      'socket_group = adm', 'metrics =', 'nft_table = lb_test', 'nft_chain_priority = -5', 'keep_table_on_stop = no',
      'max_tracked_addresses = 1000', 'max_line_length = 4096', 'batch_window_ms = 5', 'batch_max_changes = 100',
      'xdp_interfaces = eth0, eth1', 'xdp_keep_on_stop = yes', 'strict_filters = true', 'reconcile_interval = 1m',
      'dbpurgeage = 2d',
    ].join('\n'),
  });
  t.same(readSettings(dir), {
    backend: 'dry-run', stateDir: '/tmp/x', socket: '/tmp/x/s.sock', socketMode: 0o660, socketGroup: 'adm', metrics: '',
    nftTable: 'lb_test', nftChainPriority: -5, keepTableOnStop: false, maxTrackedAddresses: 1000, maxLineLength: 4096,
    batchWindowMs: 5, batchMaxChanges: 100, threads: 2, xdpInterfaces: ['eth0', 'eth1'], xdpKeepOnStop: true,
    strictFilters: true, reconcileIntervalSec: 60, dbpurgeage: 172800,
  });
});

t.test('bad settings name file, line and key', async (t) => {
  const bad = (line: string): string => writeTree(t, { 'logban.local': `[logban]\n${line}\n` });
  userError(t, () => readSettings(bad('backend = iptables')), /logban\.local:2: \[logban\] backend: "iptables" is not one of/);
  userError(t, () => readSettings(bad('threads = many')), /logban\.local:2: \[logban\] threads: "many" is not a number/);
  userError(t, () => readSettings(bad('socket_mode = 777x')), /logban\.local:2: \[logban\] socket_mode: /);
  userError(t, () => readSettings(bad('metrics = localhost')), /logban\.local:2: \[logban\] metrics: .*HOST:PORT/);
  userError(t, () => readSettings(bad('nft_table = bad name')), /logban\.local:2: \[logban\] nft_table: /);
  userError(t, () => readSettings(bad('statedir = /x')), /logban\.local:2: \[logban\] statedir: unknown setting/);
  userError(t, () => readSettings(writeTree(t, { 'logban.conf': '[logbann]\na = 1\n' })), /logban\.conf:1: unknown section \[logbann\]/);
});

t.test('the bundled logban.conf documents every setting with its default', async (t) => {
  const { store } = readLayered(path.join(bundledConfig, 'logban'));
  t.same(store.options('logban').sort(), [...SETTING_KEYS].sort(), 'every key present, no unknown key');
  const s = readSettings(bundledConfig);
  const d = defaultSettings();
  // socket_group is written empty, which leaves it unset like the default
  t.same(s, d);
});
