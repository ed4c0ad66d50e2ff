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

from unittest import mock

from django.urls import reverse
from nova_usbclient import controller_models
from openstack_dashboard import api
from openstack_dashboard.test import helpers as test

from nova_usb_dashboard.api import nova_usb
from nova_usb_dashboard.dashboards.admin.usb_devices import (
    tables as admin_tables)
from nova_usb_dashboard.dashboards.project.usb_devices import tables
from nova_usb_dashboard.dashboards.project.usb_devices import views

YUBIKEY = {'id': 'd1', 'vendor_id': '1050', 'product_id': '0407',
           'vendor_name': 'Yubico', 'product_name': 'YubiKey',
           'serial': '17381956', 'port_path': '1-1.1'}
HELD = ('USB device d1 is held by server 7f0c (vm2): detach it there '
        'first.')


class AttachTests(test.TestCase):

    def setUp(self):
        super().setUp()
        self.server = self.servers.first()
        self.url = reverse('horizon:project:usb_devices:attach',
                           args=[self.server.id])

    @test.create_mocks({api.nova: ['server_get'],
                        nova_usb: ['available_devices']})
    def test_form_lists_the_available_devices(self):
        self.mock_server_get.return_value = self.server
        self.mock_available_devices.return_value = [
            nova_usb.UsbDevice(YUBIKEY)]
        response = self.client.get(self.url)
        self.assertTemplateUsed(response, 'project/usb_devices/attach.html')
        self.assertContains(response, 'Yubico YubiKey (1050:0407), serial '
                            '17381956, port 1-1.1')
        self.assertContains(response, 'qemu-xhci')
        self.mock_available_devices.assert_called_once_with(
            test.IsHttpRequest(), self.server.id)
        # nova-usb's list (what the server's project is granted), and
        # nothing else.
        self.assertEqual(['d1'], [value for value, _label in
                                  response.context['form'].fields[
                                      'device'].choices])

    @test.create_mocks({api.nova: ['server_get'],
                        nova_usb: ['attach_device', 'available_devices']})
    def test_attach_returns_to_the_tab(self):
        self.mock_server_get.return_value = self.server
        self.mock_attach_device.return_value = nova_usb.UsbDevice(YUBIKEY)
        self.mock_available_devices.return_value = []
        response = self.client.post(self.url, {
            'instance_id': self.server.id, 'device': 'd1',
            'controller_model': 'qemu-xhci'})
        self.assertNoFormErrors(response)
        self.assertRedirectsNoFollow(response,
                                     views.tab_url(self.server.id))
        self.mock_attach_device.assert_called_once_with(
            test.IsHttpRequest(), self.server.id, 'd1',
            controller_model='qemu-xhci')

    @test.create_mocks({api.nova: ['server_get'],
                        nova_usb: ['attach_device', 'available_devices']})
    def test_refusal_shows_nova_usb_message_in_the_form(self):
        self.mock_server_get.return_value = self.server
        self.mock_attach_device.side_effect = nova_usb.Conflict(HELD)
        other = dict(YUBIKEY, id='d2', serial='17381957')
        self.mock_available_devices.return_value = [
            nova_usb.UsbDevice(other)]
        response = self.client.post(self.url, {
            'instance_id': self.server.id, 'device': 'd1'})
        self.assertEqual(200, response.status_code)
        self.assertContains(response, 'held by server 7f0c (vm2)')
        self.assertNotContains(response, 'Select a valid choice')
        # Shown again with what is available now.
        self.assertContains(response, 'serial 17381957')


class DetachAndControllerTests(test.TestCase):

    def setUp(self):
        super().setUp()
        self.server = self.servers.first()

    @test.create_mocks({api.nova: ['server_get'],
                        nova_usb: ['detach_device']})
    def test_detach(self):
        self.mock_server_get.return_value = self.server
        url = reverse('horizon:project:usb_devices:detach',
                      args=[self.server.id, 'd1'])
        response = self.client.post(url, {'instance_id': self.server.id,
                                          'device_id': 'd1'})
        self.assertRedirectsNoFollow(response,
                                     views.tab_url(self.server.id))
        self.mock_detach_device.assert_called_once_with(
            test.IsHttpRequest(), self.server.id, 'd1')

    def row_update(self, device_id):
        url = reverse('horizon:project:usb_devices:devices',
                      args=[self.server.id])
        return self.client.get(url, {'action': 'row_update',
                                     'table': 'usb_devices',
                                     'obj_id': device_id},
                               HTTP_X_REQUESTED_WITH='XMLHttpRequest')

    @test.create_mocks({api.nova: ['server_get'],
                        nova_usb: ['server_device']})
    def test_a_detaching_row_is_updated_until_final(self):
        self.mock_server_get.return_value = self.server
        self.mock_server_device.return_value = nova_usb.UsbDevice(
            dict(YUBIKEY, status='detaching'))
        response = self.row_update('d1')
        self.assertEqual(200, response.status_code)
        self.assertContains(response, 'Detaching')
        # Transitional: Horizon asks again, from the table's own view,
        # and offers no second detach.
        self.assertContains(response, 'class="ajax-update warning"')
        self.assertContains(response, reverse(
            'horizon:project:usb_devices:devices', args=[self.server.id]))
        self.assertNotContains(response, 'action_detach')
        self.mock_server_device.assert_called_once_with(
            test.IsHttpRequest(), self.server.id, 'd1')

        self.mock_server_device.return_value = nova_usb.UsbDevice(
            dict(YUBIKEY, status='attached'))
        response = self.row_update('d1')
        self.assertContains(response, 'Attached')
        self.assertContains(response, 'class="ajax-update status_up"')

    @test.create_mocks({api.nova: ['server_get'],
                        nova_usb: ['server_device']})
    def test_a_detached_row_is_dropped(self):
        self.mock_server_get.return_value = self.server
        self.mock_server_device.side_effect = nova_usb.NotFound(
            'USB device d1 is not attached to this server.')
        self.assertEqual(404, self.row_update('d1').status_code)

    @test.create_mocks({api.nova: ['server_get']})
    def test_the_table_view_sends_a_page_to_the_tab(self):
        self.mock_server_get.return_value = self.server
        response = self.client.get(reverse(
            'horizon:project:usb_devices:devices', args=[self.server.id]))
        self.assertRedirectsNoFollow(response,
                                     views.tab_url(self.server.id))

    @test.create_mocks({api.nova: ['server_get']})
    def test_add_controller_form_offers_the_models_nova_usb_accepts(self):
        self.mock_server_get.return_value = self.server
        url = reverse('horizon:project:usb_devices:add_controller',
                      args=[self.server.id])
        response = self.client.get(url)
        fields = response.context['form'].fields
        self.assertEqual(list(controller_models.ADDABLE_MODELS),
                         [value for value, _label in fields['model'].choices])
        self.assertEqual(controller_models.XHCI_MAX_PORTS,
                         fields['ports'].max_value)
        self.assertContains(response, '1 to %d;'
                            % controller_models.XHCI_MAX_PORTS)

    @test.create_mocks({api.nova: ['server_get'],
                        nova_usb: ['add_controller']})
    def test_add_controller(self):
        self.mock_server_get.return_value = self.server
        self.mock_add_controller.return_value = nova_usb.UsbController(
            {'index': 1, 'model': 'qemu-xhci', 'ports': 4})
        url = reverse('horizon:project:usb_devices:add_controller',
                      args=[self.server.id])
        response = self.client.post(url, {'instance_id': self.server.id,
                                          'model': 'qemu-xhci',
                                          'ports': 4})
        self.assertRedirectsNoFollow(response,
                                     views.tab_url(self.server.id))
        self.mock_add_controller.assert_called_once_with(
            test.IsHttpRequest(), self.server.id, 'qemu-xhci', ports=4)

    @test.create_mocks({api.nova: ['server_get'],
                        nova_usb: ['remove_controller']})
    def test_remove_controller_refused(self):
        self.mock_server_get.return_value = self.server
        self.mock_remove_controller.side_effect = nova_usb.Conflict(
            'USB controller 1 holds device d1: detach it first.')
        url = reverse('horizon:project:usb_devices:remove_controller',
                      args=[self.server.id, 1])
        response = self.client.post(url, {'instance_id': self.server.id,
                                          'index': 1})
        self.assertContains(response, 'holds device d1: detach it first')


class ActionStateTests(test.TestCase):
    """Actions follow nova-usb's state table."""

    def _allowed(self, action, status, task_state=None):
        instance = mock.Mock(status=status, tenant_id=self.tenant.id,
                             id='s1', **{'OS-EXT-STS:task_state': task_state})
        table = tables.ServerUsbDevicesTable(self.request, instance=instance)
        return action(table=table).allowed(self.request)

    def test_device_actions(self):
        for status in ('ACTIVE', 'PAUSED', 'SHUTOFF'):
            self.assertTrue(self._allowed(tables.AttachUsbDevice, status))
        for status in ('SUSPENDED', 'SHELVED_OFFLOADED', 'ERROR', 'BUILD'):
            self.assertFalse(self._allowed(tables.AttachUsbDevice, status))
        self.assertFalse(self._allowed(tables.AttachUsbDevice, 'ACTIVE',
                                       task_state='rebooting'))

    def test_controller_actions_only_when_stopped(self):
        self.assertTrue(self._allowed(tables.AddUsbController, 'SHUTOFF'))
        self.assertFalse(self._allowed(tables.AddUsbController, 'ACTIVE'))


class AdminUsbDevicesTests(test.BaseAdminViewTests):

    @test.create_mocks({api.nova: ['service_list', 'server_list'],
                        nova_usb: ['host_devices']})
    def test_host_devices_with_reasons_and_holder(self):
        server = self.servers.first()
        self.mock_service_list.return_value = [mock.Mock(host='node1')]
        self.mock_server_list.return_value = ([server], False)
        self.mock_host_devices.return_value = [
            nova_usb.UsbDevice(dict(YUBIKEY, host='node1', assignable=True,
                                    reason=None, server_id=server.id)),
            nova_usb.UsbDevice({
                'id': 'h1', 'host': 'node1', 'vendor_id': '1d6b',
                'product_id': '0002', 'vendor_name': 'Linux',
                'product_name': 'xHCI Host Controller', 'serial': None,
                'port_path': '1', 'assignable': False, 'reason': 'hub',
                'server_id': None})]
        response = self.client.get(reverse('horizon:admin:usb_devices:'
                                           'index'))
        self.assertTemplateUsed(response, 'admin/usb_devices/index.html')
        self.assertContains(response, 'xHCI Host Controller')
        self.assertRegex(response.content.decode(), r'<td[^>]*>\s*hub\s*</td>')
        self.assertContains(response, reverse(
            'horizon:admin:instances:detail', args=[server.id]))
        self.mock_host_devices.assert_called_once_with(
            test.IsHttpRequest(), 'node1')

    @test.create_mocks({api.nova: ['service_list'],
                        nova_usb: ['host_devices']})
    def test_grants_link_for_devices_not_hubs(self):
        self.mock_service_list.return_value = [mock.Mock(host='node1')]
        self.mock_host_devices.return_value = [
            nova_usb.UsbDevice(dict(YUBIKEY, host='node1', assignable=True,
                                    reason=None, is_hub=False, use='api')),
            nova_usb.UsbDevice({
                'id': 'h1', 'host': 'node1', 'vendor_id': '1d6b',
                'product_id': '0002', 'assignable': False, 'reason': 'hub',
                'is_hub': True, 'use': None})]
        response = self.client.get(reverse('horizon:admin:usb_devices:'
                                           'index'))
        self.assertContains(response, admin_tables.grants_url('node1', 'd1'))
        self.assertNotContains(response,
                               admin_tables.grants_url('node1', 'h1'))
        self.assertContains(response, 'API only')


GRANTS = [{'project_id': '*', 'source': 'device_spec'}]


class AdminGrantsTests(test.BaseAdminViewTests):
    """A device's grants: listed with their source, added, removed."""

    def setUp(self):
        super().setUp()
        self.project = self.tenants.first()
        self.url = reverse('horizon:admin:usb_devices:grants',
                           args=['node1', 'd1'])
        self.add_url = reverse('horizon:admin:usb_devices:add_grant',
                               args=['node1', 'd1'])
        self.device = nova_usb.UsbDevice(dict(
            YUBIKEY, host='node1', assignable=True, reason=None,
            is_hub=False, use='any'))

    def _grants(self, *stored):
        return [nova_usb.UsbDeviceGrant(g) for g in GRANTS + [
            {'project_id': project_id, 'source': 'grant'}
            for project_id in stored]]

    @test.create_mocks({api.keystone: ['tenant_list'],
                        nova_usb: ['device_grants', 'host_device']})
    def test_grants_with_their_source(self):
        self.mock_host_device.return_value = self.device
        self.mock_device_grants.return_value = self._grants(self.project.id)
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        response = self.client.get(self.url)
        self.assertTemplateUsed(response, 'admin/usb_devices/grants.html')
        self.assertContains(response, 'Grants of USB Device Yubico YubiKey')
        content = response.content.decode()
        rule_row = content[content.index('id="device_grants__row__'
                                         'device_spec/*"'):]
        rule_row = rule_row[:rule_row.index('</tr>')]
        self.assertIn('Every project', rule_row)
        self.assertIn('from [usb] device_spec', rule_row)
        self.assertNotIn('Remove Grant', rule_row)
        stored_row = content[content.index('id="device_grants__row__grant/%s"'
                                           % self.project.id):]
        stored_row = stored_row[:stored_row.index('</tr>')]
        self.assertIn(self.project.name, stored_row)
        self.assertIn('Remove Grant', stored_row)
        self.assertContains(response, self.add_url)
        self.mock_device_grants.assert_called_once_with(
            test.IsHttpRequest(), 'd1')
        self.mock_host_device.assert_called_once_with(
            test.IsHttpRequest(), 'd1', host='node1')

    @test.create_mocks({nova_usb: ['device_grants', 'host_device']})
    def test_grants_refused_shows_nova_usb_message(self):
        self.mock_host_device.side_effect = nova_usb.NotFound('gone')
        self.mock_device_grants.side_effect = nova_usb.NotFound(
            'No compute host has USB device d1.')
        response = self.client.get(self.url)
        self.assertContains(response, 'No compute host has USB device d1.')
        self.assertContains(response, 'Grants of USB Device d1')

    @test.create_mocks({api.keystone: ['tenant_list'],
                        nova_usb: ['host_device']})
    def test_add_form_offers_keystone_projects(self):
        self.mock_host_device.return_value = self.device
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        response = self.client.get(self.add_url)
        self.assertTemplateUsed(response, 'admin/usb_devices/add_grant.html')
        choices = dict(response.context['form'].fields['project'].choices)
        for project in self.tenants.list():
            self.assertEqual(project.name, choices[project.id])
        self.assertContains(response, 'Yubico YubiKey')

    @test.create_mocks({api.keystone: ['tenant_list'],
                        nova_usb: ['grant_device', 'host_device']})
    def test_add_returns_to_the_grants(self):
        self.mock_host_device.return_value = self.device
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        self.mock_grant_device.return_value = nova_usb.UsbDeviceGrant(
            {'project_id': self.project.id, 'source': 'grant'})
        response = self.client.post(self.add_url, {
            'device_id': 'd1', 'project': self.project.id})
        self.assertNoFormErrors(response)
        self.assertRedirectsNoFollow(response, self.url)
        self.assertMessageCount(success=1)
        self.mock_grant_device.assert_called_once_with(
            test.IsHttpRequest(), 'd1', self.project.id)

    @test.create_mocks({api.keystone: ['tenant_list'],
                        nova_usb: ['grant_device', 'host_device']})
    def test_add_refused_shows_nova_usb_message_in_the_form(self):
        self.mock_host_device.return_value = self.device
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        self.mock_grant_device.side_effect = nova_usb.BadRequest(
            'Project ID 0ddba11 is not a valid project.')
        response = self.client.post(self.add_url, {
            'device_id': 'd1', 'project': '0ddba11'})
        self.assertEqual(200, response.status_code)
        self.assertTemplateUsed(response, 'admin/usb_devices/add_grant.html')
        self.assertContains(response,
                            'Project ID 0ddba11 is not a valid project.')
        self.assertNotContains(response, 'Select a valid choice')

    @test.create_mocks({api.keystone: ['tenant_list'],
                        nova_usb: ['device_grants', 'host_device',
                                   'revoke_device_grant']})
    def test_remove_stored_grant(self):
        self.mock_host_device.return_value = self.device
        self.mock_device_grants.return_value = self._grants(self.project.id)
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        response = self.client.post(self.url, {
            'action': 'device_grants__delete__grant/%s' % self.project.id})
        self.assertRedirectsNoFollow(response, self.url)
        self.assertMessageCount(success=1)
        self.mock_revoke_device_grant.assert_called_once_with(
            test.IsHttpRequest(), 'd1', self.project.id)

    @test.create_mocks({api.keystone: ['tenant_list'],
                        nova_usb: ['device_grants', 'host_device',
                                   'revoke_device_grant']})
    def test_remove_refused_shows_nova_usb_message(self):
        refusal = ('Server vm1 (7f0c) is being rebooted: USB device d1 '
                   'cannot be detached now.')
        self.mock_host_device.return_value = self.device
        self.mock_device_grants.return_value = self._grants(self.project.id)
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        self.mock_revoke_device_grant.side_effect = nova_usb.Conflict(refusal)
        response = self.client.post(self.url, {
            'action': 'device_grants__delete__grant/%s' % self.project.id},
            follow=True)
        self.assertContains(response, refusal)
        self.assertNotContains(response, 'Unable to remove')

    @test.create_mocks({api.keystone: ['tenant_list'],
                        nova_usb: ['device_grants', 'host_device',
                                   'revoke_device_grant']})
    def test_device_spec_grant_cannot_be_removed(self):
        self.mock_host_device.return_value = self.device
        self.mock_device_grants.return_value = self._grants()
        self.mock_tenant_list.return_value = (self.tenants.list(), False)
        self.client.post(self.url, {
            'action': 'device_grants__delete__device_spec/*'})
        self.mock_revoke_device_grant.assert_not_called()
        self.assertMessageCount(error=1)
