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

"""Forms of the instance's USB actions.

A refusal by nova-usb (a device another server holds, no free port, a
server that must be stopped...) is shown in the form with nova-usb's own
message, which says what to do; the form stays open.
"""

from django.utils import text
from django.utils.translation import gettext_lazy as _
from horizon import forms
from horizon import messages
from nova_usbclient import controller_models

from nova_usb_dashboard.api import nova_usb

NOVA_USB_DEFAULT = ''


def _model_choices(default_label):
    return [(NOVA_USB_DEFAULT, default_label)] + [
        (model, model) for model in controller_models.ADDABLE_MODELS]


class _ServerForm(forms.SelfHandlingForm):
    instance_id = forms.CharField(widget=forms.HiddenInput())

    def _refused(self, error):
        self.api_error(error.message)
        return False


class _DeviceField(forms.ThemableChoiceField):
    """Offers the devices available when the form opened, and takes the
    one chosen even when it is no longer available: nova-usb then refuses
    with its own message (held by which server), not Django's generic
    "Select a valid choice".
    """

    def valid_value(self, value):
        return bool(value)


class AttachUsbDevice(_ServerForm):
    device = _DeviceField(
        label=_('USB Device'),
        help_text=_('The devices of the server\'s compute host that it may '
                    'use, as nova-usb lists them: granted to the server\'s '
                    'project, assignable and held by no other server.'))
    controller_model = forms.ThemableChoiceField(
        label=_('Controller Model'), required=False,
        choices=_model_choices(_('Any free port (nova-usb adds its '
                                 'default controller if none is free)')),
        help_text=_('Put the device on a controller of this model, added '
                    'when the server has none with a free port.'))

    def __init__(self, request, *args, **kwargs):
        # nova-usb's list of the server's available devices, and nothing
        # else: it leaves out what the server's project is not granted.
        devices = kwargs.pop('devices', ())
        super().__init__(request, *args, **kwargs)
        choices = [(d.id, _device_label(d)) for d in devices]
        if not choices:
            choices = [('', _('No USB device of this host is available'))]
        self.fields['device'].choices = choices

    def handle(self, request, data):
        try:
            device = nova_usb.attach_device(
                request, data['instance_id'], data['device'],
                controller_model=data.get('controller_model'))
        except nova_usb.ApiError as error:
            return self._refused(error)
        messages.success(request, _('Attached USB device %s.') % device.name)
        return device


class DetachUsbDevice(_ServerForm):
    device_id = forms.CharField(widget=forms.HiddenInput())

    def handle(self, request, data):
        try:
            nova_usb.detach_device(request, data['instance_id'],
                                   data['device_id'])
        except nova_usb.ApiError as error:
            return self._refused(error)
        messages.success(request, _('Detaching USB device %s: it leaves '
                                    'the list when it is detached; the '
                                    'server\'s action log tells if it '
                                    'could not be.') % data['device_id'])
        return True


class AddUsbController(_ServerForm):
    model = forms.ThemableChoiceField(
        label=_('Model'), choices=[
            (model, model) for model in controller_models.ADDABLE_MODELS],
        initial='qemu-xhci')
    ports = forms.IntegerField(
        label=_('Ports'), required=False, min_value=1,
        max_value=controller_models.XHCI_MAX_PORTS,
        help_text=text.format_lazy(
            _('XHCI models only (qemu-xhci, nec-xhci): 1 to {maximum}; '
              'other models have a fixed number of ports.'),
            maximum=controller_models.XHCI_MAX_PORTS))

    def handle(self, request, data):
        try:
            controller = nova_usb.add_controller(
                request, data['instance_id'], data['model'],
                ports=data.get('ports'))
        except nova_usb.ApiError as error:
            return self._refused(error)
        messages.success(request, _('Added USB controller %(model)s '
                                    '(index %(index)s).')
                         % {'model': controller.model,
                            'index': controller.index})
        return controller


class RemoveUsbController(_ServerForm):
    index = forms.IntegerField(widget=forms.HiddenInput())

    def handle(self, request, data):
        try:
            nova_usb.remove_controller(request, data['instance_id'],
                                       data['index'])
        except nova_usb.ApiError as error:
            return self._refused(error)
        messages.success(request, _('Removed USB controller %s.')
                         % data['index'])
        return True


def _device_label(device):
    serial = getattr(device, 'serial', None)
    label = '%s (%s:%s)' % (device.name, device.vendor_id, device.product_id)
    if serial:
        label += _(', serial %s') % serial
    port = getattr(device, 'port_path', None)
    if port:
        label += _(', port %s') % port
    return label
