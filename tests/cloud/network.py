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

"""The cloud's network service: the only stand-in, for a cloud without
networks.

The cloud's servers boot with ``--nic none``, but Nova still asks the
network service about them: nova-api for the security groups of the ports
of every server it shows, nova-compute for the ports of a server it builds,
starts or deletes. Running neutron itself (its server, an ML2 agent, OVS
or OVN) would add several processes that none of nova-usb's paths use. This
WSGI application answers those questions truthfully for a cloud without
networks: every collection (ports, networks, security groups, extensions)
is empty, everything else does not exist. It runs under uWSGI like the
other APIs and is in keystone's catalog as the ``network`` service.
"""

import json

PREFIX = '/v2.0/'


def application(environ, start_response):
    path = environ.get('PATH_INFO', '/')
    status, body = '404 Not Found', {'NeutronError': {
        'type': 'HTTPNotFound', 'message': 'This cloud has no networks.',
        'detail': ''}}
    if environ['REQUEST_METHOD'] == 'GET':
        if path in ('/', ''):
            status, body = '200 OK', {'versions': [{
                'id': 'v2.0', 'status': 'CURRENT', 'links': []}]}
        elif path.startswith(PREFIX):
            name = path[len(PREFIX):].strip('/')
            if name and '/' not in name:
                status, body = '200 OK', {name.replace('-', '_'): []}
    data = json.dumps(body).encode()
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(data)))])
    return [data]
