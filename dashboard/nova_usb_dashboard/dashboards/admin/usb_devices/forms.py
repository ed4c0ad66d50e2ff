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

"""Granting a device to a project.

A refusal by nova-usb (a project keystone does not know, a hub, a device
for flavors only, a nova-api that keeps no grants...) is shown in the form
with nova-usb's own message; the form stays open.
"""

from django.utils.translation import gettext_lazy as _
from horizon import exceptions
from horizon import forms
from horizon import messages
from openstack_dashboard import api

from nova_usb_dashboard.api import nova_usb


class _ProjectField(forms.ThemableChoiceField):
    """Offers keystone's projects, and takes the one chosen even when it
    is gone meanwhile: nova-usb then refuses with its own message.
    """

    def valid_value(self, value):
        return bool(value)


class AddGrant(forms.SelfHandlingForm):
    device_id = forms.CharField(widget=forms.HiddenInput())
    project = _ProjectField(
        label=_('Project'),
        help_text=_('Its members may then attach the device to their '
                    'servers on the device\'s host.'))

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        try:
            projects, _more = api.keystone.tenant_list(request)
        except Exception:
            exceptions.handle(request, _('Unable to list the projects.'))
            projects = []
        self._names = {project.id: project.name for project in projects}
        projects = sorted(projects, key=lambda p: (p.name.lower(), p.id))
        self.fields['project'].choices = [('', _('Select a project'))] + [
            (project.id, project.name) for project in projects]

    def handle(self, request, data):
        try:
            nova_usb.grant_device(request, data['device_id'],
                                  data['project'])
        except nova_usb.ApiError as error:
            self.api_error(error.message)
            return False
        messages.success(request, _('Granted USB device %(device)s to '
                                    'project %(project)s.') % {
            'device': self.initial.get('device_name') or data['device_id'],
            'project': self._names.get(data['project'], data['project'])})
        return True
