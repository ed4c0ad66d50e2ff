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

"""An empty network service, for the dashboard (--dashboard).

Horizon asks the network service (neutron) on most pages: the instance
detail page for a server's ports and security groups, the overview for
quotas. The sandbox's servers have no network (Nova's NeutronFixture
stands in for neutron inside Nova), so this stand-in answers Horizon's
reads with empty collections and unlimited quotas, and refuses every
change with 405 and a message that says why. It is in the catalog only
when the sandbox serves the dashboard.
"""

import json

from nova_usb_sandbox import keystone as sandbox_keystone

SERVICE_TYPE = 'network'


def _json(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(data)))])
    return [data]


def _error(start_response, status, kind, message):
    return _json(start_response, status, {'NeutronError': {
        'type': kind, 'message': message, 'detail': ''}})


class NetworkAPI(object):
    """Networking API v2.0 with nothing in it (WSGI app)."""

    def __call__(self, environ, start_response):
        method = environ['REQUEST_METHOD']
        path = environ.get('PATH_INFO', '').rstrip('/')
        if path.endswith('.json'):
            path = path[:-len('.json')]
        parts = path.split('/')[1:]
        if not parts or parts == ['']:
            return _json(start_response, '200 OK', {'versions': [{
                'id': 'v2.0', 'status': 'CURRENT', 'links': []}]})
        if parts[0] != 'v2.0':
            return _error(start_response, '404 Not Found', 'HTTPNotFound',
                          'The sandbox network service serves /v2.0 only.')
        if method not in ('GET', 'HEAD'):
            return _error(start_response, '405 Method Not Allowed',
                          'HTTPMethodNotAllowed',
                          'The sandbox has no network service: servers '
                          'are created without network (--nic none).')
        resource = parts[1:]
        if resource == ['extensions'] or not resource:
            return _json(start_response, '200 OK', {'extensions': []})
        if resource[0] == 'quotas' and len(resource) >= 2:
            return _json(start_response, '200 OK', {'quota': {}})
        if len(resource) == 1:
            return _json(start_response, '200 OK',
                         {resource[0].replace('-', '_'): []})
        return _error(start_response, '404 Not Found', 'HTTPNotFound',
                      'The sandbox network service has no %s %s.'
                      % (resource[0], resource[1]))


def register(keystone, url):
    """Adds the network service at url to keystone's catalog."""
    admin = keystone.session()

    def create(kind, body):
        response = admin.post(keystone.url + '/%ss' % kind,
                              json={kind: body}, raise_exc=True)
        return response.json()[kind]['id']

    service_id = create('service', {'type': SERVICE_TYPE,
                                    'name': 'neutron'})
    for interface in ('public', 'internal', 'admin'):
        create('endpoint', {'service_id': service_id,
                            'interface': interface, 'url': url,
                            'region_id': sandbox_keystone.REGION})
