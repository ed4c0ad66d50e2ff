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

Clients authenticate as with a real cloud, against a small stand-in for
keystone's token API (Identity) that issues exactly these tokens: any
password, users and projects as they are named.
"""

import datetime
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
    """paste.filter_factory = nova_usb_sandbox.auth:TokenAuth.factory"""

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


class Identity(object):
    """Keystone's token API, issuing the tokens TokenAuth trusts (WSGI app).

    So that clients are configured exactly as for a real cloud (an openrc
    or a clouds.yaml entry with auth_url, user, password and project), the
    sandbox answers the few requests keystoneauth makes:

    * the version documents (GET /, GET /v3);
    * POST /v3/auth/tokens, by password (any password) or by token: the
      token issued is "user:project", the roles those TokenAuth gives, and
      the service catalog lists the sandbox's compute, image, placement and
      identity endpoints;
    * GET /v3/auth/tokens (validation) answers the same.

    Users and projects exist as they are named; nothing is stored. Every
    other identity request gets a 404 that says there is no keystone.
    """

    VERSION = 'v3.14'
    REGION = 'RegionOne'
    LIFETIME = datetime.timedelta(days=1)

    def __init__(self, services):
        """services: {service type: URL} for the service catalog."""
        self.services = services

    def __call__(self, environ, start_response):
        method = environ['REQUEST_METHOD']
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
        if path == '/v3/auth/tokens' and method == 'POST':
            return self._issue(environ, start_response)
        if path == '/v3/auth/tokens' and method in ('GET', 'HEAD'):
            token = environ.get('HTTP_X_SUBJECT_TOKEN', '')
            if not token:
                return _error(start_response, '404 Not Found',
                              'No X-Subject-Token.')
            return self._token(start_response, '200 OK', token)
        return _error(start_response, '404 Not Found',
                      'nova-usb-sandbox has no keystone: it issues tokens '
                      'and nothing else; users and projects exist as they '
                      'are named.')

    def _issue(self, environ, start_response):
        try:
            length = int(environ.get('CONTENT_LENGTH') or 0)
            auth = json.loads(environ['wsgi.input'].read(length))['auth']
            identity = auth['identity']
            methods = identity['methods']
        except (ValueError, KeyError, TypeError):
            return _error(start_response, '400 Bad Request',
                          'Expected {"auth": {"identity": ...}}.')
        if 'password' in methods:
            user = identity['password'].get('user', {})
            user = user.get('name') or user.get('id')
            roles = None
        elif 'token' in methods:
            user, project, roles = parse_token(
                identity['token'].get('id', ''))
        else:
            return _error(start_response, '401 Unauthorized',
                          'The sandbox takes a password or a token.')
        if not user:
            return _error(start_response, '401 Unauthorized',
                          'No user name.')
        scope = (auth.get('scope') or {}).get('project') or {}
        project = scope.get('name') or scope.get('id') or (
            project if 'token' in methods else user)
        token = '%s:%s' % (user, project)
        if roles is not None and tuple(roles) != (
                ADMIN_ROLES if user == 'admin' else USER_ROLES):
            token += ':' + ','.join(roles)
        return self._token(start_response, '201 Created', token)

    def _token(self, start_response, status, token):
        user, project, roles = parse_token(token)
        now = datetime.datetime.now(datetime.timezone.utc)
        domain = {'id': 'default', 'name': 'Default'}
        body = {'token': {
            'methods': ['password', 'token'],
            'issued_at': _iso(now),
            'expires_at': _iso(now + self.LIFETIME),
            'user': {'id': user, 'name': user, 'domain': domain,
                     'password_expires_at': None},
            'project': {'id': project, 'name': project, 'domain': domain},
            'roles': [{'id': role, 'name': role} for role in roles],
            'is_domain': False,
            'catalog': self._catalog(),
        }}
        return _json(start_response, status, body,
                     [('X-Subject-Token', token)])

    def _catalog(self):
        catalog = []
        for service_type, url in sorted(self.services.items()):
            catalog.append({
                'type': service_type, 'id': service_type,
                'name': service_type,
                'endpoints': [{
                    'id': '%s-%s' % (service_type, interface),
                    'interface': interface, 'region': self.REGION,
                    'region_id': self.REGION, 'url': url,
                } for interface in ('public', 'internal', 'admin')],
            })
        return catalog


def _iso(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%S.000000Z')


def _error(start_response, status, message):
    code = int(status.split()[0])
    return _json(start_response, status, {'error': {
        'code': code, 'title': status.split(' ', 1)[1], 'message': message}})


def _json(start_response, status, body, headers=()):
    data = json.dumps(body).encode()
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(data)))] +
                   list(headers))
    return [data]
