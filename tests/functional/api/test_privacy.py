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

"""Nothing of one project is visible to another: every route, as a member
of another project.

The owning project's server holds YubiKey YK0001, granted to the owning
project only; YK0002 is granted to no one. A member of another project
("stranger") with a server of its own on the same host walks every
nova-usb route, on its server and on the other project's, and reads its
server's events: no answer may carry the other project's server id, the
host's name, or a device not granted to the stranger's project.
"""

from tests.functional.api import base

UNKNOWN_DEVICE = '00000000-0000-5000-8000-000000000000'


class PrivacyTestCase(base.UsbApiTestBase):

    def setUp(self):
        super().setUp()
        self.use_project_rules()
        self.server = self._create_server(networks='none')
        self.assertStatus(200, self.attach(self.server, self.key1))
        theirs = self.clients['stranger'].post_server({'server': {
            'name': 'theirs', 'imageRef': self.server['image']['id'],
            'flavorRef': '1', 'networks': 'none'}})
        self.theirs = self._wait_for_state_change(theirs, 'ACTIVE')

    def secrets(self):
        """What no answer to the stranger may contain."""
        return {'the other project\'s server id': self.server['id'],
                'the host name': 'compute1',
                'a device held by the other project': self.key1,
                'a device granted to no project': self.key2,
                'a hub': self.device_id('1-1'),
                'a device no rule selects': self.device_id('1-3')}

    def walk(self):
        """(route, response) of every nova-usb route as the stranger."""
        theirs, other = self.theirs['id'], self.server['id']
        dongle = self.dongle
        calls = [
            ('GET', '/os-usb-devices?host=compute1'),
            ('GET', '/os-usb-devices/%s' % dongle),
            ('GET', '/os-usb-devices/%s/grants' % dongle),
            ('PUT', '/os-usb-devices/%s/grants/%s' % (
                dongle, base.OTHER_PROJECT)),
            ('DELETE', '/os-usb-devices/%s/grants/%s' % (
                dongle, base.OTHER_PROJECT)),
            ('GET', '/servers/%s/os-usb-devices' % theirs),
            ('GET', '/servers/%s/os-usb-devices?available=true' % theirs),
            ('GET', '/servers/%s/os-usb-devices/%s' % (theirs, dongle)),
            ('DELETE', '/servers/%s/os-usb-devices/%s' % (theirs, dongle)),
            ('GET', '/servers/%s/os-usb-controllers' % theirs),
            ('POST', '/servers/%s/os-usb-controllers' % theirs,
             {'usb_controller': {'model': 'ehci'}}),
            ('DELETE', '/servers/%s/os-usb-controllers/1' % theirs),
            ('GET', '/servers/%s/os-usb-devices' % other),
            ('GET', '/servers/%s/os-usb-devices?available=true' % other),
            ('POST', '/servers/%s/os-usb-devices' % other,
             {'usb_device': {'id': dongle}}),
            ('DELETE', '/servers/%s/os-usb-devices/%s' % (other, dongle)),
            ('GET', '/servers/%s/os-usb-controllers' % other),
        ]
        # Attaches to its own server: what it may have, and ids it was
        # never given (the hub, the key held by the other project, the key
        # granted to no one, an id no host has), each refused alike.
        for device_id in (dongle, self.key1, self.key2,
                          self.device_id('1-1'), self.device_id('1-3'),
                          UNKNOWN_DEVICE):
            calls.append(('POST', '/servers/%s/os-usb-devices' % theirs,
                          {'usb_device': {'id': device_id}}))
        answers = []
        for method, path, *body in calls:
            # The route with what the request said (ids it sent).
            route = '%s %s %s' % (method, path, body[0] if body else '')
            answers.append((route, self.request(
                'stranger', method, path, body[0] if body else None)))
        answers.append(('server events', self.request(
            'stranger', 'GET', '/servers/%s/os-instance-actions' % theirs)))
        for action in answers[-1][1].body['instanceActions']:
            answers.append(('server event %s' % action['action'],
                            self.request(
                                'stranger', 'GET',
                                '/servers/%s/os-instance-actions/%s' % (
                                    theirs, action['request_id']))))
        return answers

    def test_no_answer_shows_what_is_not_the_projects(self):
        answers = self.walk()
        self.assertGreater(len(answers), 25)
        for route, response in answers:
            # The stranger sent some of these ids itself: an answer may
            # repeat what the request said, nothing more.
            sent = route.split(' ', 1)[1]
            text = response.body if isinstance(response.body, str) else (
                repr(response.body))
            for what, secret in self.secrets().items():
                if secret in sent:
                    continue
                self.assertNotIn(secret, text, '%s shows %s: %s' % (
                    route, what, text))
        statuses = {route: response.status for route, response in answers}
        # Nothing of the other project's server, nothing of the operators'.
        for route, status in statuses.items():
            if ('/servers/%s/' % self.server['id']) in route:
                self.assertEqual(404, status, route)
            if route.split(' ')[1].startswith('/os-usb-devices'):
                self.assertEqual(403, status, route)
        # The devices it was never given are answered alike: as unknown.
        refusals = {response.message.replace(device_id, 'ID')
                    for route, response in answers
                    for device_id in (self.key1, self.key2,
                                      self.device_id('1-1'),
                                      self.device_id('1-3'), UNKNOWN_DEVICE)
                    if route.startswith('POST /servers/%s/' %
                                        self.theirs['id']) and
                    device_id in route}
        self.assertEqual(1, len(refusals), refusals)
        # What it was given works: the dongle (granted to every project).
        attached = self.request('stranger', 'GET',
                                '/servers/%s/os-usb-devices' %
                                self.theirs['id']).body['usb_devices']
        self.assertEqual([self.dongle], [d['id'] for d in attached])

    def test_a_device_another_project_holds_is_listed_without_its_holder(
            self):
        """The stranger's server wants a device the other project took
        meanwhile (asked for while stopped, then the other project's
        server got it): its listing says "held by another server", never
        which.
        """
        theirs = self.theirs
        self.assertStatus(202, self.detach(self.server, self.key1))
        self.assertStatus(200, self.grant(self.key1))
        theirs = self._stop_server(theirs)
        self.assertStatus(200, self.attach(theirs, self.key1, 'stranger'))
        # The owning project's server takes it live while theirs is
        # stopped... which the claim forbids: the stranger holds it.
        refused = self.assertStatus(409, self.attach(self.server,
                                                     self.key1))
        self.assertIn('held by another server', refused.message)
        self.assertNotIn(theirs['id'], refused.message)

    def grant(self, device_id):
        return self.request('admin', 'PUT', '/os-usb-devices/%s/grants/%s' % (
            device_id, base.OTHER_PROJECT))
