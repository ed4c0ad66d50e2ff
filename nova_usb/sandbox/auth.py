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


"""The sandbox's stand-in for keystone in nova-api's pipeline.

Nova 34 has no keystone-less mode any more (its noauth2 middleware is
gone), and a sandbox must not need a keystone. This middleware takes the
place of keystonemiddleware's auth_token in the paste pipeline and does
what placement's noauth2 still does: it trusts the token it is given.

    X-Auth-Token: user:project[:role,role...]

The user named "admin" has the admin, member and reader roles, everybody
else member and reader, unless the token lists roles. Whatever identity
headers the client sent are replaced, as auth_token does, and Nova's own
NovaKeystoneContext then builds the request context from them: nova-api
and nova-usb's policies see a keystone-like caller.

Clients get keystone's version document only (IdentityVersions), which
some openstackclient commands insist on finding.
"""

import json

from nova.api import wsgi
import webob.dec
import webob.exc

ADMIN_ROLES = ('admin', 'member', 'reader')
USER_ROLES = ('member', 'reader')
# The identity headers auth_token sets; a client may not set them itself.
_IDENTITY_HEADERS = (
    'X-Identity-Status', 'X-Domain-Id', 'X-Domain-Name', 'X-Project-Id',
    'X-Project-Name', 'X-Project-Domain-Id', 'X-Project-Domain-Name',
    'X-User-Id', 'X-User-Name', 'X-User-Domain-Id', 'X-User-Domain-Name',
    'X-Roles', 'X-Service-Catalog', 'X-Tenant-Id', 'X-Tenant-Name',
    'X-Tenant', 'X-User', 'X-Role', 'X-Is-Admin-Project',
    'OpenStack-System-Scope', 'X-System-Scope')


def parse_token(token):
    """(user, project, roles) of a token "user:project[:roles]"."""
    user, _sep, rest = token.partition(':')
    project, _sep, roles = rest.partition(':')
    project = project or user
    if roles:
        roles = tuple(r.strip() for r in roles.split(',') if r.strip())
    else:
        roles = ADMIN_ROLES if user == 'admin' else USER_ROLES
    return user, project, roles


class TokenAuth(wsgi.Middleware):
    """paste.filter_factory = nova_usb.sandbox.auth:TokenAuth.factory"""

    @webob.dec.wsgify(RequestClass=wsgi.Request)
    def __call__(self, req):
        for header in _IDENTITY_HEADERS:
            req.headers.pop(header, None)
        token = req.headers.get('X-Auth-Token', '').strip()
        if not token:
            return webob.exc.HTTPUnauthorized(
                explanation='nova-usb-sandbox has no keystone: send the '
                            'header "X-Auth-Token: user:project", e.g. '
                            '"admin:admin".')
        user, project, roles = parse_token(token)
        req.headers['X-Identity-Status'] = 'Confirmed'
        req.headers['X-User-Id'] = user
        req.headers['X-User-Name'] = user
        req.headers['X-Project-Id'] = project
        req.headers['X-Project-Name'] = project
        req.headers['X-Roles'] = ','.join(roles)
        return self.application


class IdentityVersions(object):
    """Keystone's version document, and nothing else (WSGI app).

    openstackclient builds an identity client for some compute commands
    (``openstack server list`` resolves --project and --user through it)
    and refuses one that is not Identity v3 before it sends anything; this
    answers that discovery. Every other identity request gets a 404 that
    says there is no keystone.
    """

    VERSION = 'v3.14'

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '').rstrip('/')
        host = environ.get('HTTP_HOST') or '%s:%s' % (
            environ['SERVER_NAME'], environ['SERVER_PORT'])
        base = 'http://%s%s' % (host, environ.get('SCRIPT_NAME', ''))
        version = {
            'id': self.VERSION, 'status': 'stable',
            'updated': '2020-04-07T00:00:00Z',
            'links': [{'rel': 'self', 'href': base + '/v3/'}],
            'media-types': [{
                'base': 'application/json',
                'type': 'application/vnd.openstack.identity-v3+json'}],
        }
        if path == '':
            return _json(start_response, '300 Multiple Choices',
                         {'versions': {'values': [version]}})
        if path == '/v3':
            return _json(start_response, '200 OK', {'version': version})
        return _json(start_response, '404 Not Found', {'error': {
            'code': 404, 'title': 'Not Found',
            'message': 'nova-usb-sandbox has no keystone: tokens are '
                       '"user:project" and projects and users exist as '
                       'they are named.'}})


def _json(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(data)))])
    return [data]
