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

"""Unexpected failures on the compute host answer 404/409/503 with a
message, never 500, and change nothing.
"""

from unittest import mock

from nova import exception as nova_exception
from nova import objects
import oslo_messaging as messaging

from nova_usb.db import requests as usb_requests
from nova_usb.db import server_requests
from nova_usb import rpc as usb_rpc
from tests.functional.api import base


class ComputeFailuresTestCase(base.UsbApiTestBase):

    def setUp(self):
        super().setUp()
        self.server = self._create_server(networks='none')

    def test_server_deleted_while_the_request_travels(self):
        original = usb_rpc.UsbComputeAPI._client

        def client(api, context, host, timeout=None, method=None):
            # The server goes between nova-api's lookup and the compute
            # host's.
            objects.Instance.get_by_uuid(
                self.ctxt, self.server['id']).destroy()
            return original(api, context, host, timeout, method)

        with mock.patch.object(usb_rpc.UsbComputeAPI, '_client', client):
            self.assertStatus(404, self.attach(self.server, self.key1),
                              'could not be found')

    def test_domain_gone_from_the_host(self):
        before = self.snapshot(self.server)
        # libvirt lost the domain of a server Nova thinks runs.
        with mock.patch.object(
                self.computes['compute1'].driver._host, 'get_guest',
                side_effect=nova_exception.InstanceNotFound(
                    instance_id=self.server['id'])):
            self.assertStatus(409, self.attach(self.server, self.key1),
                              'The server has no libvirt domain on its '
                              'compute host')
        self.assertUnchanged(self.server, before)

    def conductor_times_out(self, after_saving):
        """nova-usb's save through conductor gets no answer; Nova's own
        saves go through.
        """
        save = objects.Instance.save

        def timing_out(instance, *args, **kwargs):
            if 'system_metadata' not in instance.obj_what_changed():
                return save(instance, *args, **kwargs)
            if after_saving:
                save(instance, *args, **kwargs)
            raise messaging.MessagingTimeout('conductor')

        return mock.patch('nova.objects.Instance.save', timing_out)

    def test_conductor_does_not_answer_the_save(self):
        before = self.snapshot(self.server)
        with self.conductor_times_out(after_saving=False):
            self.assertStatus(503, self.attach(self.server, self.key1),
                              'could not save the change (its conductor did '
                              'not answer): it was undone')
        self.assertUnchanged(self.server, before)

    def test_conductor_answer_lost_after_the_save(self):
        with self.conductor_times_out(after_saving=True):
            self.assertStatus(200, self.attach(self.server, self.key1))
        self.assertEqual([self.key1], [r.id for r in
                                       self.requests(self.server).devices])
        self.assertEqual(self.server['id'],
                         self.host_device(self.key1)['server_id'])

    def test_corrupt_stored_requests(self):
        instance = self.instance(self.server)
        sysmeta = dict(instance.system_metadata)
        sysmeta[usb_requests.DEVICES_KEY] = '[{"id": "trunc'
        instance.system_metadata = sysmeta
        instance.save()
        for response in (self.attach(self.server, self.key1),
                         self.detach(self.server, self.key1),
                         self.server_devices(self.server)):
            self.assertStatus(409, response,
                              'The stored USB requests (%s) of this server '
                              'cannot be read' % usb_requests.DEVICES_KEY)
        self.assertEqual('[{"id": "trunc', server_requests.read(
            self.ctxt, self.server['id']).system_metadata[
            usb_requests.DEVICES_KEY])
