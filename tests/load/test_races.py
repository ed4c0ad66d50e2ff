#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.


"""Races for one USB device under load, over HTTP, on MariaDB.

``nova-usb-sandbox --demo-devices --database mysql+pymysql://...`` runs
(through tests.load.launcher, which adds timing probes) with Nova's API,
cell and placement databases on the MariaDB server of the test machine
(tools/mariadb.sh; OpenStack CI's openstack_citest account), in databases
it creates for the run and drops when it stops. nova-api serves HTTP on
127.0.0.1 with a thread per request.

Fifty servers are booted; then, twenty times, fifty threads released at
once by a barrier each ask nova-api to attach the same device to their own
server (POST /servers/{id}/os-usb-devices). Each round must end with
exactly one 200 and forty-nine 409s that name the winner as the holder,
and no other answer; the host's view (GET /os-usb-devices?host=), every
server's view (GET /servers/{id}/os-usb-devices) and the stored requests
in the cell database must then all name the winner alone, before the
winner detaches the device for the next round. A thread reads the cell
database without pause during every round and every detach: no read may
ever find the device in the stored requests of two servers.

Evidence that the requests raced: the greatest number of requests in
flight at the same moment, measured by the client (its own start and end
times), inside nova-api's WSGI threads and on the compute host's nova-usb
RPC endpoint (both timed by the launcher's probes, on the same monotonic
clock); it must exceed one in every round at all three places. The
summary (also printed) gives them per round.

Every request, wait and round is bounded, so that a hang fails the test
instead of hanging the suite. Without a reachable MariaDB the test is
skipped, unless NOVA_USB_REQUIRE_MYSQL is set (tools/run-suites.sh sets
it): then it fails.
"""

import collections
import concurrent.futures
import json
import os
import re
import secrets
import statistics
import sys
import threading
import time

import fixtures
import pymysql
import requests
import testtools
from testtools import content

from tests.fixtures import sandbox_process

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
RACERS = 50
ROUNDS = 20
PROJECTS = 5
HOST = 'sandbox'
DEMO_KEY_SERIAL = '17381956'

MYSQL_USER = MYSQL_PASSWORD = 'openstack_citest'
MYSQL_HOST = 'localhost'
DB_NAME = 'nova_usb_load'
DATABASES = tuple('%s_%s' % (DB_NAME, suffix)
                  for suffix in ('api', 'cell0', 'cell1', 'placement',
                                 'usb'))
DATABASE_URL = 'mysql+pymysql://%s:%s@%s/%s' % (
    MYSQL_USER, MYSQL_PASSWORD, MYSQL_HOST, DB_NAME)
REQUESTS_KEY = 'usb_devices_requests'

READY_TIMEOUT = 300      # the schemas' migrations on MariaDB take most
BUILD_TIMEOUT = 600      # fifty servers ACTIVE
REQUEST_TIMEOUT = 60     # any one HTTP request
BARRIER_TIMEOUT = 30
ROUND_TIMEOUT = 120      # every racer of a round has its answer
STOP_TIMEOUT = 60
TEST_TIMEOUT = 1800      # the whole test, whatever hangs
SAMPLE_INTERVAL = 0.005


def max_in_flight(intervals):
    """The greatest number of (start, end) intervals open at one moment
    (an interval ending when another starts does not overlap it).
    """
    events = sorted([(start, 1) for start, _end in intervals] +
                    [(end, -1) for _start, end in intervals])
    current = peak = 0
    for _moment, change in events:
        current += change
        peak = max(peak, current)
    return peak


def mysql_connect(database=None):
    return pymysql.connect(host=MYSQL_HOST, user=MYSQL_USER,
                           password=MYSQL_PASSWORD, database=database,
                           connect_timeout=10, read_timeout=30,
                           write_timeout=30, autocommit=True)


def existing_databases():
    with mysql_connect() as conn, conn.cursor() as cursor:
        cursor.execute('SELECT schema_name FROM information_schema.schemata '
                       'WHERE schema_name LIKE %s', (DB_NAME + '\\_%',))
        return sorted(row[0] for row in cursor.fetchall())


def stored(cursor):
    """{server uuid: its stored device requests (text)}, from the cell
    database (nova_usb.db.requests: chunks under KEY, KEY.1, KEY.2...).
    """
    cursor.execute(
        'SELECT instance_uuid, `key`, value FROM instance_system_metadata '
        'WHERE deleted = 0 AND (`key` = %s OR `key` LIKE %s)',
        (REQUESTS_KEY, REQUESTS_KEY + '.%'))
    chunks = collections.defaultdict(dict)
    for uuid, key, value in cursor.fetchall():
        number = 0 if key == REQUESTS_KEY else int(key.rsplit('.', 1)[1])
        chunks[uuid][number] = value or ''
    return {uuid: ''.join(parts[n] for n in sorted(parts))
            for uuid, parts in chunks.items()}


def stored_holders(cursor, device_id):
    """The servers whose stored requests have the device."""
    return sorted(uuid for uuid, text in stored(cursor).items()
                  if device_id in text)


def drop_databases():
    with mysql_connect() as conn, conn.cursor() as cursor:
        cursor.execute('SET SESSION lock_wait_timeout = 30')
        for name in DATABASES:
            cursor.execute('DROP DATABASE IF EXISTS `%s`' % name)


def start_sandbox(probe_path):
    """tests.load.launcher (nova-usb-sandbox with the load suite's
    probes) in a subprocess.
    """
    return sandbox_process.SandboxProcess(
        ['umockdev-wrapper', sys.executable, '-m', 'tests.load.launcher',
         '--demo-devices', '--host', HOST, '--database', DATABASE_URL],
        env={'OS_NOVA_DISABLE_EVENTLET_PATCHING': '1',
             'NOVA_USB_LOAD_PROBE': probe_path}, cwd=ROOT)


class Client(object):
    """nova-api over HTTP with a keystone-style token; one per thread."""

    def __init__(self, compute_url, token):
        self.compute_url = compute_url
        self.session = requests.Session()
        self.session.headers.update({
            'X-Auth-Token': token,
            'OpenStack-API-Version': 'compute latest',
            'Accept': 'application/json'})

    def call(self, method, path, body=None, expect=None):
        response = self.session.request(
            method, self.compute_url + path, json=body,
            timeout=REQUEST_TIMEOUT)
        if expect is not None and response.status_code != expect:
            raise AssertionError('%s %s: %d, not %d: %s' % (
                method, path, response.status_code, expect,
                response.text[:2000]))
        return response

    def json(self, method, path, body=None, expect=200):
        return self.call(method, path, body, expect).json()


class Sampler(object):
    """Reads the stored USB requests of every server in the cell database
    without pause, and keeps every read in which two or more servers
    hold the watched device.
    """

    def __init__(self, device_id):
        self.device_id = device_id
        self.samples = 0
        self.double_claims = []
        self.holders = set()
        self.error = None
        self.peak_connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            with mysql_connect(DB_NAME + '_cell1') as conn, \
                    conn.cursor() as cursor:
                while not self._stop.is_set():
                    holding = stored_holders(cursor, self.device_id)
                    self.samples += 1
                    self.holders.update(holding)
                    if len(holding) > 1:
                        self.double_claims.append(holding)
                    if self.samples % 50 == 0:
                        cursor.execute("SHOW GLOBAL STATUS LIKE "
                                       "'Threads_connected'")
                        self.peak_connections = max(
                            self.peak_connections,
                            int(cursor.fetchone()[1]))
                    self._stop.wait(SAMPLE_INTERVAL)
        except Exception as error:
            self.error = error

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(60)


class Probes(object):
    """The launcher's probe file, read as it grows."""

    def __init__(self, path):
        self.path = path
        self._offset = 0

    def new(self):
        with open(self.path) as probe:
            probe.seek(self._offset)
            text = probe.read()
        # Only whole lines; a line being written is read next time.
        whole = text[:text.rfind('\n') + 1]
        self._offset += len(whole.encode())
        return [json.loads(line) for line in whole.splitlines()]


class Round(object):

    def __init__(self, number):
        self.number = number
        self.results = []           # (server, status, body, start, end)
        self.api = []               # probe records at nova-api
        self.compute = []           # probe records on the compute host
        self.winner = None
        self.seconds = None

    def in_flight(self):
        return {
            'client': max_in_flight([(r[3], r[4]) for r in self.results]),
            'api': max_in_flight([(r['start'], r['end'])
                                  for r in self.api]),
            'compute': max_in_flight([(r['start'], r['end'])
                                      for r in self.compute]),
        }

    def contenders(self):
        """Losers whose call reached the compute host before the winner's
        call there had ended.
        """
        won = [r for r in self.compute if r['outcome'] == 'attached']
        if len(won) != 1:
            return 0
        return sum(1 for r in self.compute
                   if r['outcome'] != 'attached' and
                   r['start'] < won[0]['end'])


class TestRacesUnderLoad(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(TEST_TIMEOUT, gentle=True))
        try:
            existing_databases()
        except pymysql.MySQLError as error:
            message = ('MariaDB is not reachable as %s@%s (tools/mariadb.sh '
                       'start): %s' % (MYSQL_USER, MYSQL_HOST, error))
            if os.environ.get('NOVA_USB_REQUIRE_MYSQL'):
                self.fail(message)
            self.skipTest(message)
        # Left by a run that was killed: these names are this suite's.
        drop_databases()
        self.addCleanup(drop_databases)

    def start_sandbox(self):
        probe_dir = self.useFixture(fixtures.TempDir()).path
        self.probes = Probes(os.path.join(probe_dir, 'probe.jsonl'))
        open(self.probes.path, 'w').close()
        self.sandbox = start_sandbox(self.probes.path)
        self.addCleanup(self.sandbox.stop, STOP_TIMEOUT)
        self.addDetail('sandbox output', content.Content(
            content.UTF8_TEXT, lambda: [self.sandbox.output.encode()]))
        self.addCleanup(self.keep_log_errors)
        began = time.monotonic()
        compute_url = (self.sandbox.wait_ready(READY_TIMEOUT) and
                       self.sandbox.compute_url())
        if not compute_url:
            self.fail('nova-usb-sandbox was not ready within %d s'
                      % READY_TIMEOUT)
        self.timings['sandbox start'] = time.monotonic() - began
        base_url = compute_url.rsplit('/compute/', 1)[0]
        printed = dict(re.findall(r'^\s+export (OS_[A-Z_]+)=(\S+)$',
                                  self.sandbox.output, re.M))
        self.auth_url = printed['OS_AUTH_URL']
        self.admin_password = printed['OS_PASSWORD']
        token = self.token('admin', 'admin', self.admin_password)
        self.base_url, self.compute_url, self.token_ = (
            base_url, compute_url, token)
        return Client(compute_url, token)

    def keep_log_errors(self):
        """nova.log's errors and tracebacks, while the state is there."""
        state_dir = self.sandbox.state_dir()
        if not state_dir:
            return
        try:
            with open(os.path.join(state_dir, 'nova.log')) as log:
                lines = [line.rstrip('\n') for line in log
                         if ' ERROR ' in line or ' WARNING ' in line or
                         line.startswith(('Traceback', '  ', 'ERROR'))]
        except OSError:
            return
        text = '\n'.join(lines[-400:])
        self.addDetail('nova.log errors and warnings', content.text_content(
            text))

    def token(self, user, project, password):
        """A token from the sandbox's keystone, as clients get one."""
        response = requests.post(self.auth_url + '/auth/tokens', json={
            'auth': {
                'identity': {'methods': ['password'], 'password': {'user': {
                    'name': user, 'password': password,
                    'domain': {'name': 'Default'}}}},
                'scope': {'project': {'name': project,
                                      'domain': {'name': 'Default'}}}}},
            timeout=REQUEST_TIMEOUT)
        if response.status_code != 201:
            raise AssertionError('no token: %d %s' % (response.status_code,
                                                      response.text))
        return response.headers['X-Subject-Token']

    # Set-up through the APIs, as an operator would

    def member_token(self, number):
        """Project "loadN" and its member "memberN", made through
        keystone's API as an operator does; the member's token.
        """
        identity = requests.Session()
        identity.headers['X-Auth-Token'] = self.token_

        def call(method, path, body=None):
            response = identity.request(method, self.auth_url + path,
                                        json=body, timeout=REQUEST_TIMEOUT)
            self.assertLess(response.status_code, 300, response.text)
            return response.json() if response.content else None

        project = call('POST', '/projects', {'project': {
            'name': 'load%d' % number, 'domain_id': 'default'}})['project']
        password = secrets.token_urlsafe(18)
        user = call('POST', '/users', {'user': {
            'name': 'member%d' % number, 'password': password,
            'domain_id': 'default',
            'default_project_id': project['id']}})['user']
        role, = call('GET', '/roles?name=member')['roles']
        call('PUT', '/projects/%s/users/%s/roles/%s' % (
            project['id'], user['id'], role['id']))
        return self.token('member%d' % number, 'load%d' % number, password)

    def make_room(self):
        """A VCPU allocation ratio for fifty one-vCPU servers on the one
        simulated host (8 CPUs): what an operator sets in placement.
        """
        placement = requests.Session()
        placement.headers.update({
            'X-Auth-Token': 'admin',
            'OpenStack-API-Version': 'placement 1.20'})
        url = self.base_url + '/placement/resource_providers'
        # The compute node; its USB devices are its child providers.
        providers = [p for p in placement.get(
            url, timeout=REQUEST_TIMEOUT).json()['resource_providers']
            if p['parent_provider_uuid'] is None]
        self.assertEqual(1, len(providers), providers)
        inventory_url = '%s/%s/inventories/VCPU' % (url,
                                                    providers[0]['uuid'])
        vcpu = placement.get(inventory_url, timeout=REQUEST_TIMEOUT).json()
        vcpu['allocation_ratio'] = float(RACERS)
        response = placement.put(inventory_url, json=vcpu,
                                 timeout=REQUEST_TIMEOUT)
        self.assertEqual(200, response.status_code, response.text)

    def boot(self, client):
        """Fifty servers, ten by the member of each of five projects
        (Nova's default quota is ten servers a project); a project's ten
        are asked for once the previous ten are ACTIVE.
        """
        image = requests.get(
            self.base_url + '/image/v2/images', params={'name': 'empty'},
            headers={'X-Auth-Token': self.token_},
            timeout=REQUEST_TIMEOUT).json()['images'][0]
        per_project = RACERS // PROJECTS
        deadline = time.monotonic() + BUILD_TIMEOUT
        for number in range(1, PROJECTS + 1):
            member = Client(self.compute_url, self.member_token(number))
            member.call('POST', '/servers', {'server': {
                'name': 'racer', 'flavorRef': 'tiny',
                'imageRef': image['id'], 'networks': 'none',
                'min_count': per_project, 'max_count': per_project}},
                expect=202)
            servers = self.wait_active(client, number * per_project,
                                       deadline)
        return servers

    def wait_active(self, client, count, deadline):
        while True:
            servers = client.json(
                'GET', '/servers/detail?all_tenants=1&name=^racer')[
                'servers']
            errors = [s for s in servers if s['status'] == 'ERROR']
            if errors:
                self.fail('servers in ERROR: %s' % [
                    (s['id'], s.get('fault')) for s in errors])
            active = [s['id'] for s in servers if s['status'] == 'ACTIVE']
            if len(active) == count:
                return sorted(active)
            if time.monotonic() > deadline:
                self.fail('%d of %d servers ACTIVE after %d s' % (
                    len(active), count, BUILD_TIMEOUT))
            time.sleep(1)

    def device(self, client):
        devices = client.json('GET', '/os-usb-devices?host=%s' % HOST)[
            'usb_devices']
        key = [d for d in devices if d['serial'] == DEMO_KEY_SERIAL]
        self.assertEqual(1, len(key), devices)
        self.assertTrue(key[0]['assignable'])
        self.assertIsNone(key[0]['server_id'])
        return key[0]['id']

    # One round

    def race(self, number, servers, device_id):
        """Every server asks for the device at once."""
        this = Round(number)
        clients = [Client(self.compute_url, self.token_) for _ in servers]
        barrier = threading.Barrier(len(servers))
        results = [None] * len(servers)
        body = {'usb_device': {'id': device_id}}

        def racer(index):
            server = servers[index]
            try:
                barrier.wait(BARRIER_TIMEOUT)
            except threading.BrokenBarrierError:
                results[index] = (server, 'barrier broken', '', 0, 0)
                return
            began = time.monotonic()
            try:
                response = clients[index].call(
                    'POST', '/servers/%s/os-usb-devices' % server, body)
                results[index] = (server, response.status_code,
                                  response.text, began, time.monotonic())
            except requests.RequestException as error:
                results[index] = (server, 'no answer: %r' % error, '',
                                  began, time.monotonic())

        threads = [threading.Thread(target=racer, args=(index,), daemon=True,
                                    name='racer-%d' % index)
                   for index in range(len(servers))]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        deadline = began + ROUND_TIMEOUT
        for thread in threads:
            thread.join(max(0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            barrier.abort()
            self.fail('round %d: %d racers without an answer after %d s' % (
                number, sum(t.is_alive() for t in threads), ROUND_TIMEOUT))
        this.seconds = time.monotonic() - began
        this.results = results
        return this

    def check_round(self, this, client, servers, device_id):
        number = this.number
        statuses = sorted(str(r[1]) for r in this.results)
        self.assertEqual(['200'] + ['409'] * (len(servers) - 1), statuses,
                         'round %d: %s' % (number, [
                             (r[0], r[1], r[2][:300]) for r in this.results
                             if r[1] not in (200, 409)]))
        won = [r for r in this.results if r[1] == 200]
        winner = this.winner = won[0][0]
        attached = json.loads(won[0][2])['usb_device']
        self.assertEqual((device_id, 'attached'),
                         (attached['id'], attached['status']))
        for server, _status, text, _start, _end in this.results:
            if server != winner:
                message = json.loads(text)['conflictingRequest']['message']
                self.assertIn('held by server %s' % winner, message,
                              'round %d, server %s' % (number, server))

        # What the probes saw of this round (the calls have all ended).
        records = self.probes.new()
        this.api = [r for r in records if r['at'] == 'api' and
                    r['method'] == 'POST' and
                    r['path'].endswith('/os-usb-devices')]
        this.compute = [r for r in records if r['at'] == 'compute']
        self.assertEqual(len(servers), len(this.api),
                         'round %d: requests seen by nova-api' % number)
        self.assertEqual(
            (sorted(servers), {device_id}),
            (sorted(r['server'] for r in this.compute),
             {r['device'] for r in this.compute}),
            'round %d: one call per server on the compute host' % number)
        self.assertEqual(
            {'attached': 1, 'UsbDeviceInUse': len(servers) - 1},
            dict(collections.Counter(r['outcome'] for r in this.compute)),
            'round %d: outcomes on the compute host' % number)
        self.assertEqual([winner], [r['server'] for r in this.compute
                                    if r['outcome'] == 'attached'])
        in_flight = this.in_flight()
        for where, peak in in_flight.items():
            self.assertGreater(peak, 1, 'round %d: requests never overlapped'
                               ' (%s)' % (number, where))

        # Every view names the winner alone.
        self.assertEqual({device_id: winner}, self.holders(client, device_id))
        self.assertEqual([winner], self.listing(servers, device_id))
        self.assertEqual([winner], self.in_database(device_id))

        # The detach ends in the background after its 202.
        client.call('DELETE', '/servers/%s/os-usb-devices/%s' % (
            winner, device_id), expect=202)
        deadline = time.monotonic() + 60
        while self.holders(client, device_id) != {device_id: None}:
            self.assertLess(time.monotonic(), deadline,
                            'round %d: still held 60 s after the detach'
                            % number)
            time.sleep(0.2)
        self.assertEqual([], self.in_database(device_id))

    def holders(self, client, device_id):
        devices = client.json('GET', '/os-usb-devices?host=%s' % HOST)[
            'usb_devices']
        return {d['id']: d['server_id'] for d in devices
                if d['id'] == device_id}

    def listing(self, servers, device_id):
        """The servers whose own device list has the device."""
        def lists(server):
            listed = self.client.json(
                'GET', '/servers/%s/os-usb-devices' % server)['usb_devices']
            return [d['id'] for d in listed]

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            listed = dict(zip(servers, pool.map(lists, servers)))
        return sorted(s for s, ids in listed.items() if device_id in ids)

    def in_database(self, device_id):
        with mysql_connect(DB_NAME + '_cell1') as conn, \
                conn.cursor() as cursor:
            return stored_holders(cursor, device_id)

    # The test

    def test_fifty_attaches_of_one_device_twenty_rounds(self):
        self.timings = collections.OrderedDict()
        began = time.monotonic()
        self.client = client = self.start_sandbox()
        self.assertIn('%s_cell1' % DB_NAME, self.sandbox.output)
        self.assertEqual(list(DATABASES), existing_databases())

        step = time.monotonic()
        self.make_room()
        servers = self.boot(client)
        self.timings['%d servers booted' % RACERS] = time.monotonic() - step
        device_id = self.device(client)
        self.probes.new()

        sampler = Sampler(device_id)
        sampler.start()
        self.addCleanup(sampler.stop)
        rounds = []
        step = time.monotonic()
        for number in range(1, ROUNDS + 1):
            this = self.race(number, servers, device_id)
            rounds.append(this)
            self.check_round(this, client, servers, device_id)
            self.assertEqual([], sampler.double_claims,
                             'two servers held the device at once')
            self.assertIsNone(sampler.error)
        sampler.stop()
        self.timings['%d rounds' % ROUNDS] = time.monotonic() - step
        self.assertIsNone(sampler.error)
        self.assertEqual([], sampler.double_claims)
        self.assertGreater(sampler.samples, ROUNDS)
        # The sampler saw the device stored for the winners, nobody else.
        self.assertEqual({r.winner for r in rounds}, sampler.holders)

        step = time.monotonic()
        status = self.sandbox.stop(STOP_TIMEOUT)
        self.timings['sandbox stop'] = time.monotonic() - step
        self.assertEqual(0, status)
        self.assertEqual([], existing_databases())
        self.timings['total'] = time.monotonic() - began

        summary = self.summary(rounds, sampler)
        self.addDetail('summary', content.text_content(summary))
        print(summary)

    def summary(self, rounds, sampler):
        peaks = {where: [r.in_flight()[where] for r in rounds]
                 for where in ('client', 'api', 'compute')}
        lines = [
            'Races for one USB device: %d rounds of %d concurrent attaches '
            'over HTTP, Nova on MariaDB' % (len(rounds), RACERS),
            '',
            'round  winner    seconds  in flight: client  nova-api  '
            'compute host  losers at the host before the winner ended',
        ]
        for r in rounds:
            peak = r.in_flight()
            lines.append('%5d  %s  %7.2f  %17d  %8d  %12d  %d' % (
                r.number, r.winner[:8], r.seconds, peak['client'],
                peak['api'], peak['compute'], r.contenders()))
        lines.append('')
        for where, values in peaks.items():
            lines.append('most requests in flight at once (%s): min %d, '
                         'median %g, max %d' % (
                             where, min(values), statistics.median(values),
                             max(values)))
        lines += [
            'answers: %d x 200, %d x 409, nothing else' % (
                len(rounds), len(rounds) * (RACERS - 1)),
            'distinct winners: %d of %d servers' % (
                len({r.winner for r in rounds}), RACERS),
            'cell database read %d times during the rounds: %d reads with '
            'the device stored for two servers' % (
                sampler.samples, len(sampler.double_claims)),
            'MariaDB connections, peak sampled: %d' % (
                sampler.peak_connections),
            '',
        ]
        lines += ['%s: %.1f s' % item for item in self.timings.items()]
        return '\n'.join(lines)
