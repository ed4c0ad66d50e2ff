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

"""Which server states allow which USB change: the one state table.

=========================  ==================================================
vm_state (task_state None)  attach / detach of a USB device
=========================  ==================================================
ACTIVE, PAUSED              live and persistent: the guest sees it now and
                            after any reboot
STOPPED (SHUTOFF)           recorded only: Nova writes the whole domain anew
                            at the next start, and it is there then
SUSPENDED                   refused: a suspended server is a libvirt managed
                            save whose restore uses the saved definition, so
                            a change could not take effect; resume it first
anything else, or any       refused
task_state
=========================  ==================================================

USB controllers are added and removed only while the server is STOPPED:
libvirt cannot hot-plug a USB controller.

Both nova-api (to answer early) and the compute host (to decide, under its
lock) check against this table.
"""

from nova.compute import vm_states

from nova_usb import exception

# How a change is applied.
LIVE = 'live'  # libvirt live + config, and the system metadata
RECORDED = 'recorded'  # the system metadata only

DEVICE_CHANGE = {
    vm_states.ACTIVE: LIVE,
    vm_states.PAUSED: LIVE,
    vm_states.STOPPED: RECORDED,
}

CONTROLLER_CHANGE = {
    vm_states.STOPPED: RECORDED,
}


def build_cut_short(instance):
    """Whether, at nova-compute's start, the server is one whose build on
    this host ended with the process: still BUILDING (no build runs
    before nova-compute is up; Nova puts it in ERROR next), or in ERROR
    with no task. Its domain may hold devices placement allocated that
    were never saved as its requests (nova_usb.virt.reconcile).
    """
    return (instance.vm_state == vm_states.BUILDING or
            (instance.vm_state == vm_states.ERROR and
             instance.task_state is None))


def _mode(table, instance, action):
    mode = table.get(instance.vm_state)
    if mode is None or instance.task_state is not None:
        raise exception.UsbInstanceInvalidState(
            action=action, vm_state=instance.vm_state,
            task_state=instance.task_state,
            allowed=', '.join(sorted(table)))
    return mode


def device_change_mode(instance, action):
    """LIVE or RECORDED for attaching/detaching a device, else 409."""
    return _mode(DEVICE_CHANGE, instance, action)


def controller_change_mode(instance, action):
    """RECORDED for adding/removing a controller, else 409."""
    return _mode(CONTROLLER_CHANGE, instance, action)
