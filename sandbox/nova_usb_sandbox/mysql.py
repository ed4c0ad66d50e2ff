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


"""--database: the sandbox's databases on a MySQL or MariaDB server.

By default the sandbox keeps Nova's and placement's databases as SQLite
files in its state directory. Given a server's URL instead,

    mysql+pymysql://USER:PASSWORD@HOST/NAME

it creates five new databases there, ``NAME_api``, ``NAME_cell0``,
``NAME_cell1``, ``NAME_placement`` and ``NAME_usb`` (nova-usb's own, for
the grants nova-api keeps; NAME defaults to ``nova_usb_sandbox``), refuses
to start when one of them already exists (it never takes over someone's
data), lets Nova's, placement's and nova-usb's own migrations make their
schemas, and drops them when it stops, unless its state is kept
(``--state-dir``). Nova then runs as on a deployment's
database: many writers at once, with the server's own locking.
"""

import re

DEFAULT_NAME = 'nova_usb_sandbox'
# The sandbox's databases, by their name in the state directory (SQLite)
# and the suffix of their name on the server.
SUFFIXES = {
    'nova_api': 'api',
    'nova_cell0': 'cell0',
    'nova_cell1': 'cell1',
    'placement': 'placement',
    'nova_usb': 'usb',
}
_NAME = re.compile(r'^[A-Za-z0-9_]{1,48}$')
CONNECT_TIMEOUT = 10
# A DROP DATABASE waits for the metadata locks of open transactions; the
# sandbox's are all over by then, but a stray client must not hang it.
LOCK_WAIT_TIMEOUT = 30


class Unusable(Exception):
    """The server cannot hold the sandbox's databases; the message says
    why.
    """


class Server(object):
    """Where the sandbox's databases are, and their creation and removal."""

    def __init__(self, url):
        from sqlalchemy.engine import url as sa_url
        try:
            parsed = sa_url.make_url(url)
        except Exception as error:
            raise Unusable('%s is not a database URL: %s' % (url, error))
        if parsed.get_backend_name() != 'mysql':
            raise Unusable(
                '%s is not a MySQL URL; give one such as '
                'mysql+pymysql://USER:PASSWORD@127.0.0.1/NAME'
                % parsed.render_as_string(hide_password=True))
        self.name = parsed.database or DEFAULT_NAME
        if not _NAME.match(self.name):
            raise Unusable('%r cannot name databases: letters, digits and '
                           '"_" only, at most 48' % self.name)
        query = dict(parsed.query)
        query.setdefault('charset', 'utf8')
        # The server itself (URL.set() cannot unset the database).
        self._url = sa_url.URL.create(
            parsed.drivername, username=parsed.username,
            password=parsed.password, host=parsed.host, port=parsed.port,
            query=query)
        self.created = []

    def database(self, name):
        """The server's name of one of the sandbox's databases."""
        return '%s_%s' % (self.name, SUFFIXES[name])

    def connection(self, name):
        """The connection URL of one of the sandbox's databases."""
        return self._url.set(database=self.database(name)).render_as_string(
            hide_password=False)

    def shown(self):
        """The server, without its password, for the printout."""
        return self._url.set(query={}).render_as_string(hide_password=True)

    def databases(self):
        return [self.database(name) for name in SUFFIXES]

    def _engine(self):
        import sqlalchemy
        from sqlalchemy import pool
        return sqlalchemy.create_engine(
            self._url, poolclass=pool.NullPool,
            connect_args={'connect_timeout': CONNECT_TIMEOUT})

    def _connect(self):
        try:
            return self._engine().connect()
        except Exception as error:
            raise Unusable('cannot connect to %s: %s' % (
                self.shown(), getattr(error, 'orig', error)))

    def create(self):
        """Create the databases; refuse if one of them exists."""
        import sqlalchemy
        with self._connect() as conn:
            existing = sorted(set(conn.execute(sqlalchemy.text(
                'SELECT schema_name FROM information_schema.schemata')
            ).scalars()) & set(self.databases()))
            if existing:
                raise Unusable(
                    'database%s %s already exist%s on %s: drop %s or give '
                    'another name' % (
                        's' if len(existing) > 1 else '',
                        ', '.join(existing),
                        '' if len(existing) > 1 else 's', self.shown(),
                        'them' if len(existing) > 1 else 'it'))
            for database in self.databases():
                conn.execute(sqlalchemy.text(
                    'CREATE DATABASE `%s` CHARACTER SET utf8' % database))
                self.created.append(database)

    def drop(self):
        """Drop the databases this object created."""
        import sqlalchemy
        if not self.created:
            return
        with self._connect() as conn:
            conn.execute(sqlalchemy.text(
                'SET SESSION lock_wait_timeout = %d' % LOCK_WAIT_TIMEOUT))
            while self.created:
                conn.execute(sqlalchemy.text(
                    'DROP DATABASE IF EXISTS `%s`' % self.created[-1]))
                self.created.pop()
