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

"""nova-usb's Horizon plugin in a real browser.

Starts ``nova-usb-sandbox --dashboard --demo-devices`` as a user runs it,
makes servers as demo-member through Nova's API, then drives headless
Chromium (Debian's chromium and chromium-driver) with Selenium through the
dashboard: the member attaches a device to a running server and detaches
it; adds and removes a controller of a stopped server, attaches a device
to it and starts it; sees nova-usb's own message when a device was taken
meanwhile by another server; the reader sees no attach action; the admin
sees the host's devices with the reasons, and a device's grants, grants it
to a project and removes the grant; a member of another project walks
every page of the plugin and sees nothing of project demo. Every page is
saved as a PNG into .tox/dashboard/screenshots/; the docs' screenshots are
refreshed with ``--screenshots doc/source/user/dashboard`` (the other
project's walk stays in .tox/dashboard/screenshots/other-project/).

    python -m tests.dashboard.run [--only NAME] [--screenshots DIR]

``--only`` runs the scenarios whose name contains NAME (repeatable).

The last line is "dashboard: N passed, N failed"; the exit status is 0
only when every scenario passed. Every wait is bounded.
"""

import argparse
import os
import sys
import time
import traceback

from tests.fixtures import sandbox_process

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
SCREENSHOTS = os.path.join(ROOT, '.tox', 'dashboard', 'screenshots')
# The pages of the other project's walk: evidence, not pictures for the
# docs, so here whatever --screenshots says.
OTHER_PROJECT_SCREENSHOTS = os.path.join(SCREENSHOTS, 'other-project')
READY_TIMEOUT = 180
STOP_TIMEOUT = 60
WAIT = 60
CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
YUBICO = '1050'
DONGLE_VENDOR = '0529'


class Failure(Exception):
    pass


class Sandbox(sandbox_process.SandboxProcess):
    """nova-usb-sandbox --dashboard --demo-devices in a subprocess."""

    def __init__(self):
        super().__init__([os.path.join(BIN, 'nova-usb-sandbox'),
                          '--demo-devices', '--dashboard'], cwd='/')

    def wait_ready(self):
        if not super().wait_ready(READY_TIMEOUT):
            raise Failure('the sandbox was not ready within %d s:\n%s'
                          % (READY_TIMEOUT, '\n'.join(self.lines[-30:])))

    def _find(self, pattern):
        found = self.find(pattern)
        if found is None:
            raise Failure('the sandbox did not print %r' % pattern)
        return found

    @property
    def dashboard_url(self):
        return self._find(r'^\s+dashboard\s+(http://127\.0\.0\.1:\d+/)$')[0]

    @property
    def auth_url(self):
        return self.environment()['OS_AUTH_URL']

    def password(self, user):
        if user == 'admin':
            return self.environment()['OS_PASSWORD']
        return self.accounts()[user][1]


class Cloud(object):
    """Nova's API as a user of the sandbox, to prepare the scenarios."""

    def __init__(self, sandbox, user, project):
        from keystoneauth1.identity import v3
        from keystoneauth1 import session
        from novaclient import client as nova_client

        from nova_usbclient import api as usb_api
        auth = v3.Password(
            auth_url=sandbox.auth_url, username=user,
            password=sandbox.password(user), project_name=project,
            user_domain_name='Default', project_domain_name='Default')
        self.session = session.Session(auth=auth)
        self.nova = nova_client.Client('2.37', session=self.session)
        self.usb = usb_api.Client(self.session)

    def image_id(self):
        images = self.session.get(
            '/v2/images', endpoint_filter={'service_type': 'image'}).json()
        return images['images'][0]['id']

    def create(self, name):
        """A server being built; wait_status() waits for it."""
        return self.nova.servers.create(name, self.image_id(), 'tiny',
                                        nics='none')

    def boot(self, name):
        return self.wait_status(self.create(name).id, 'ACTIVE')

    def wait_status(self, server_id, status):
        deadline = time.monotonic() + WAIT
        while True:
            server = self.nova.servers.get(server_id)
            task = getattr(server, 'OS-EXT-STS:task_state', None)
            if server.status == status and task is None:
                return server
            if server.status == 'ERROR' or time.monotonic() > deadline:
                raise Failure('server %s is %s (task %s), not %s'
                              % (server.name, server.status, task, status))
            time.sleep(0.5)

    def stop(self, server):
        self.nova.servers.stop(server.id)
        return self.wait_status(server.id, 'SHUTOFF')

    def host_devices(self):
        """The compute host's name and its devices (as an admin)."""
        host = self.nova.services.list(binary='nova-compute')[0].host
        return host, self.usb.list_host_devices(host)

    def available(self, server, vendor_id):
        return [d for d in self.usb.list_available_devices(server.id)
                if d['vendor_id'] == vendor_id]

    def detach(self, server, device_id):
        """Detach, and wait until it is done (it ends after the 202)."""
        self.usb.wait_for_detach(server.id, device_id,
                                 self.usb.detach_device(server.id, device_id),
                                 interval=0.5, timeout=WAIT)


class Browser(object):
    """Headless Chromium driven through chromedriver."""

    def __init__(self, base_url, screenshots):
        from selenium import webdriver
        from selenium.webdriver.chrome import service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ('--headless=new', '--no-sandbox',
                         '--disable-dev-shm-usage', '--disable-gpu',
                         '--window-size=1400,1000'):
            options.add_argument(argument)
        self.driver = webdriver.Chrome(
            service=service.Service(executable_path=CHROMEDRIVER),
            options=options)
        self.driver.set_page_load_timeout(WAIT)
        self.base_url = base_url.rstrip('/')
        self.screenshots = screenshots

    def quit(self):
        self.driver.quit()

    def open(self, path):
        self.driver.get(self.base_url + path)

    def wait(self, condition, what, timeout=WAIT):
        from selenium.common import exceptions
        from selenium.webdriver.support import ui
        try:
            return ui.WebDriverWait(self.driver, timeout).until(condition)
        except exceptions.TimeoutException:
            raise Failure('%s: not within %d s (page %s)'
                          % (what, timeout, self.driver.current_url))

    def element(self, css, timeout=WAIT):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        return self.wait(ec.visibility_of_element_located(
            (By.CSS_SELECTOR, css)), 'element %s' % css, timeout)

    def text_of(self, css, timeout=WAIT):
        """The text of an element, read again if the page was replaced
        meanwhile (Horizon reloads after a modal form).
        """
        from selenium.common import exceptions
        from selenium.webdriver.common.by import By

        def read(driver):
            try:
                found = driver.find_elements(By.CSS_SELECTOR, css)
                return found[0].text if found else False
            except exceptions.StaleElementReferenceException:
                return False
        return self.wait(read, 'text of %s' % css, timeout)

    def elements(self, css):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.TAG_NAME, 'body').text

    def wait_text(self, text, timeout=WAIT):
        self.wait(lambda driver: text in self.text(),
                  'text %r on the page' % text, timeout)

    def login(self, user, password, landing='/project/instances/'):
        """Logs in and opens ``landing``."""
        self.driver.delete_all_cookies()
        # Straight to the instances (or the page wanted first), not the
        # overview and its usage charts.
        self.open('/auth/login/?next=' + landing)
        self.element('#id_username').send_keys(user)
        self.element('#id_password').send_keys(password)
        self.element('#loginBtn').click()
        self.wait(lambda driver: '/auth/login' not in driver.current_url,
                  'login of %s' % user)

    def screenshot(self, name, directory=None):
        """The page as a PNG into ``directory`` (default: the
        screenshots').
        """
        directory = directory or self.screenshots
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, name + '.png')
        self.driver.save_screenshot(path)
        return path

    def source(self):
        """The page's HTML as the browser has it now: attributes, hidden
        inputs and inline scripts included, not only what is shown.
        """
        return self.driver.page_source

    def path(self):
        """The path of the page shown, after any redirection."""
        from urllib import parse
        return parse.urlsplit(self.driver.current_url).path

    def usb_tab(self, server):
        self.open('/project/instances/%s/?tab=instance_details__usb_devices'
                  % server.id)
        self.element('#usb_devices')

    def modal_submit(self):
        self.element('.modal-footer [type=submit]').click()

    def option_value(self, select_id, label):
        """The value of the option of a select shown as ``label``."""
        return self.driver.execute_script(
            'var label = arguments[1];'
            'var found = Array.prototype.filter.call('
            '    document.getElementById(arguments[0]).options,'
            '    function (o) { return o.text.trim() === label; });'
            'return found.length ? found[0].value : null;', select_id, label)

    def confirm(self):
        """Confirms in Horizon's confirmation dialog of a table action."""
        self.element('.modal-footer .btn-danger').click()

    def choose(self, select_id, value):
        """Picks an option of a Horizon (themable) select."""
        self.driver.execute_script(
            'var s = document.getElementById(arguments[0]);'
            's.value = arguments[1];'
            's.dispatchEvent(new Event("change"));', select_id, value)

    def option_values(self, select_id):
        return self.driver.execute_script(
            'return Array.prototype.map.call('
            '    document.getElementById(arguments[0]).options,'
            '    function (o) { return o.value; });', select_id)

    def choose_unoffered(self, select_id, value):
        """Picks a value the select does not offer, as a hand-made request
        would send it.
        """
        self.driver.execute_script(
            'var s = document.getElementById(arguments[0]);'
            'var o = document.createElement("option");'
            'o.value = o.text = arguments[1];'
            's.appendChild(o);'
            's.value = arguments[1];'
            's.dispatchEvent(new Event("change"));', select_id, value)


class Scenarios(object):

    def __init__(self, sandbox, browser):
        self.sandbox = sandbox
        self.browser = browser
        self.member = Cloud(sandbox, 'demo-member', 'demo')
        self.admin = Cloud(sandbox, 'admin', 'admin')
        self.running = self.member.boot('usb-running')
        self.stopped = self.member.stop(self.member.boot('usb-stopped'))
        self.other = self.member.boot('usb-other')

    def login(self, user, landing='/project/instances/'):
        self.browser.login(user, self.sandbox.password(user), landing)

    def test_member_attach_detach_running(self):
        b = self.browser
        device = self.member.available(self.running, YUBICO)[0]
        self.login('demo-member')
        b.usb_tab(self.running)
        b.screenshot('01-instance-usb-tab-empty')
        b.element('#usb_devices__action_attach').click()
        b.element('#attach_usb_device_form')
        b.choose('id_device', device['id'])
        b.screenshot('02-attach-usb-device-form')
        b.modal_submit()
        row = '#usb_devices__row__%s' % device['id']
        b.element(row)
        b.wait_text('Attached USB device')
        cells = b.text_of(row)
        for expected in (device['serial'], 'Attached', device['product_name']):
            if expected not in cells:
                raise Failure('%r not in the row %r' % (expected, cells))
        b.screenshot('03-instance-usb-device-attached')
        attached = [d['id'] for d in self.member.usb.list_server_devices(
            self.running.id)]
        if device['id'] not in attached:
            raise Failure('nova-usb does not list %s on the server: %s'
                          % (device['id'], attached))
        b.element('#usb_devices__row_%s__action_detach'
                  % device['id']).click()
        b.element('#detach_usb_device_form')
        b.screenshot('04-detach-usb-device-form')
        b.modal_submit()
        b.wait_text('Detaching USB device')
        # The row says "Detaching" while the compute host detaches (the
        # sandbox's guests send no device-removed event: Nova waits
        # [libvirt] device_detach_timeout, 5 s), then leaves the tab by
        # Horizon's row update, without the page being loaded again.
        b.driver.execute_script('window.novaUsbSamePage = true;')
        if b.elements(row) and 'Detaching' not in b.text_of(row):
            raise Failure('the row of the device being detached shows %r'
                          % b.text_of(row))
        b.screenshot('04b-instance-usb-device-detaching')
        b.wait(lambda driver: not b.elements(row),
               'the detached device leaving the tab', timeout=60)
        if not b.driver.execute_script('return window.novaUsbSamePage'):
            raise Failure('the page was loaded again: the row was not '
                          'updated in place')
        if self.member.usb.list_server_devices(self.running.id):
            raise Failure('nova-usb still lists devices on the server')

    def test_member_stopped_server_controllers_attach_start(self):
        b = self.browser
        device = self.member.available(self.stopped, DONGLE_VENDOR)[0]
        self.login('demo-member')
        b.usb_tab(self.stopped)
        b.element('#usb_controllers__action_add_controller').click()
        b.element('#add_usb_controller_form')
        b.choose('id_model', 'qemu-xhci')
        b.element('#id_ports').send_keys('4')
        b.screenshot('05-add-usb-controller-form')
        b.modal_submit()
        b.wait_text('Added USB controller qemu-xhci')
        controllers = self.member.usb.list_controllers(self.stopped.id)
        added = [c for c in controllers if c.get('removable')]
        if not added:
            raise Failure('no removable controller after the add: %s'
                          % controllers)
        b.screenshot('06-stopped-server-usb-controllers')
        b.element('#usb_controllers__row_%s__action_remove_controller'
                  % added[0]['index']).click()
        b.element('#remove_usb_controller_form')
        b.modal_submit()
        b.wait_text('Removed USB controller')
        if any(c['index'] == added[0]['index'] for c in
               self.member.usb.list_controllers(self.stopped.id)):
            raise Failure('the controller is still there after remove')
        b.element('#usb_devices__action_attach').click()
        b.element('#attach_usb_device_form')
        b.choose('id_device', device['id'])
        b.modal_submit()
        b.wait_text('Attached USB device')
        b.element('#usb_devices__row__%s' % device['id'])
        b.screenshot('07-stopped-server-usb-device-attached')
        # Start it as a user does, from the instance's actions.
        b.open('/project/instances/')
        row = '#instances__row__%s' % self.stopped.id
        b.element(row + ' .dropdown-toggle').click()
        b.element('#instances__row_%s__action_start' % self.stopped.id
                  ).click()
        self.member.wait_status(self.stopped.id, 'ACTIVE')
        b.usb_tab(self.stopped)
        cells = b.text_of('#usb_devices__row__%s' % device['id'])
        if 'Attached' not in cells:
            raise Failure('after start the device row reads %r' % cells)
        b.screenshot('08-started-server-usb-device-attached')

    def test_refusal_shows_nova_usb_message(self):
        b = self.browser
        device = self.member.available(self.running, YUBICO)[0]
        self.login('demo-member')
        b.usb_tab(self.running)
        b.element('#usb_devices__action_attach').click()
        b.element('#attach_usb_device_form')
        b.choose('id_device', device['id'])
        # Meanwhile another server takes the device.
        self.member.usb.attach_device(self.other.id, device['id'])
        b.modal_submit()
        error = b.text_of('#attach_usb_device_form .alert-danger')
        expected = None
        try:
            self.member.usb.attach_device(self.running.id, device['id'])
        except Exception as refusal:
            expected = getattr(refusal, 'message', str(refusal))
        if not expected or expected not in error:
            raise Failure('the form shows %r, nova-usb says %r'
                          % (error, expected))
        b.screenshot('09-attach-refused-device-held')
        self.member.detach(self.other, device['id'])

    def test_reader_sees_no_attach_action(self):
        b = self.browser
        self.login('demo-reader')
        b.usb_tab(self.running)
        b.screenshot('10-reader-usb-tab')
        for action in ('#usb_devices__action_attach',
                       '#usb_controllers__action_add_controller'):
            if b.elements(action):
                raise Failure('the reader is offered %s' % action)
        if 'USB Devices' not in b.text():
            raise Failure('the reader does not see the USB Devices tab')

    def test_admin_grants_device_to_project(self):
        """A device's grants; a grant to the service project (which has
        no servers, so that nothing else changes), then its removal. A
        sandbox whose nova-api keeps no grants refuses the grant: the form
        must then show nova-usb's own message.
        """
        b = self.browser
        host, devices = self.admin.host_devices()
        device = [d for d in devices if d['vendor_id'] == YUBICO and
                  d['assignable'] and d.get('use') != 'flavor'][-1]
        listed = self.admin.usb.list_device_grants(device['id'])
        self.login('admin')
        b.open('/admin/usb_devices/')
        b.element('[id="host_usb_devices__row_%s/%s__action_grants"]'
                  % (host, device['id'])).click()
        b.element('#device_grants')
        for grant in listed:
            row = '[id="device_grants__row__%s/%s"]' % (
                grant['source'], grant['project_id'])
            if grant['source'] == 'device_spec':
                if 'from [usb] device_spec' not in b.text_of(row):
                    raise Failure('%s does not read "from [usb] '
                                  'device_spec": %r' % (row, b.text_of(row)))
                if b.elements(row + ' button'):
                    raise Failure('a device_spec grant may be removed')
            else:
                b.element(row)
        b.element('#device_grants__action_add').click()
        b.element('#add_usb_device_grant_form')
        project_id = b.option_value('id_project', 'service')
        if not project_id:
            raise Failure('the project "service" is not offered')
        if any(g['project_id'] == project_id for g in listed):
            raise Failure('the service project has a grant already')
        b.choose('id_project', project_id)
        b.screenshot('12-grant-usb-device-form')
        b.modal_submit()
        refusal = '#add_usb_device_grant_form .alert-danger'

        def answered(driver):
            from selenium.common import exceptions
            try:
                return (b.elements(refusal) or
                        'Granted USB device' in b.text())
            except exceptions.StaleElementReferenceException:
                return False
        b.wait(answered, 'the grant or its refusal')
        if b.elements(refusal):
            shown = b.text_of(refusal)
            try:
                self.admin.usb.grant_device(device['id'], project_id)
            except Exception as error:
                expected = getattr(error, 'message', str(error))
            else:
                self.admin.usb.revoke_device_grant(device['id'], project_id)
                raise Failure('the form refused (%r), nova-usb grants'
                              % shown)
            if expected not in shown:
                raise Failure('the form shows %r, nova-usb says %r'
                              % (shown, expected))
            b.screenshot('13-grant-refused')
            return
        row = '[id="device_grants__row__grant/%s"]' % project_id
        if 'service' not in b.text_of(row):
            raise Failure('the new grant reads %r' % b.text_of(row))
        if {'project_id': project_id, 'source': 'grant'} not in (
                self.admin.usb.list_device_grants(device['id'])):
            raise Failure('nova-usb does not list the new grant')
        b.screenshot('13-usb-device-grants')
        b.element('[id="device_grants__row_grant/%s__action_delete"]'
                  % project_id).click()
        b.confirm()
        b.wait_text('Removed Grant')
        if any(g['project_id'] == project_id for g in
               self.admin.usb.list_device_grants(device['id'])):
            raise Failure('the grant is still there after remove')
        if b.elements(row):
            raise Failure('the removed grant is still in the table')

    def test_admin_sees_host_devices_with_reasons(self):
        b = self.browser
        device = self.member.available(self.running, YUBICO)[0]
        self.member.usb.attach_device(self.running.id, device['id'])
        self.login('admin')
        b.open('/admin/usb_devices/')
        table = b.text_of('#host_usb_devices')
        for expected in ('sandbox', 'hub', 'not matched by [usb] '
                         'device_spec', device['serial'], 'usb-running'):
            if expected not in table:
                raise Failure('%r not in the admin table:\n%s'
                              % (expected, table))
        link = b.elements('#host_usb_devices a[href*="%s"]'
                          % self.running.id)
        if not link:
            raise Failure('the holding server is not a link')
        b.screenshot('11-admin-usb-devices')
        self.member.detach(self.running, device['id'])

    def test_other_project_sees_nothing_of_demo(self):
        """other-member, a member of project other (granted no device),
        walks every page of the plugin a member reaches, and types the
        URLs of demo's servers and of the admin panel. No page's HTML
        holds a demo server's id or name, the compute host's name, a
        device's id or serial, or project demo's id; the attach form
        offers no device, and a demo device given by hand is refused as
        one the host does not have. A value the member typed into a URL
        or a form may come back (Horizon's "Unable to retrieve details for
        instance ID", nova-usb's "USB device ID is not on the server's
        host"), as the URL itself does; nothing else may.

        Meanwhile every demo server holds a demo device: a holder shown
        anywhere would be seen, and the admin's table of the host's
        devices names them all. Every one of these values is first found
        on the admin's pages: a value the pages never show would make the
        check pass for nothing.
        """
        attached = []
        try:
            for server, vendor in ((self.running, YUBICO),
                                   (self.other, YUBICO),
                                   (self.stopped, DONGLE_VENDOR)):
                # The stopped server has the dongle already when the
                # scenario that attaches it ran first.
                if not [d for d in self.member.usb.list_server_devices(
                        server.id) if d['vendor_id'] == vendor]:
                    device = self.member.available(server, vendor)[0]
                    self.member.usb.attach_device(server.id, device['id'])
                    attached.append((server, device['id']))
            held = [d['id'] for d in self.member.usb.list_server_devices(
                self.running.id)][0]
            self._walk_as_other_project(held)
        finally:
            for server, device_id in attached:
                self.member.detach(server, device_id)

    def _demo_secrets(self, host, devices):
        """{value: what it is} of what other-member must never see."""
        secrets = {host: 'the compute host\'s name',
                   self.member.session.get_project_id(): 'project demo\'s id'}
        for server in (self.running, self.stopped, self.other):
            secrets[server.id] = 'the id of demo server %s' % server.name
            secrets[server.name] = 'the name of a demo server'
        # Nothing is granted to project other: every device of the host
        # is one it must not learn of, hubs and the keyboard included.
        for device in devices:
            secrets[device['id']] = 'the id of device %s' % device['id']
            if device.get('serial'):
                secrets[device['serial']] = 'the serial of device %s' % (
                    device['id'])
        empty = [what for value, what in secrets.items() if not value]
        if empty:
            raise Failure('nothing to look for: %s' % ', '.join(empty))
        return secrets

    def _admin_sees(self, secrets, host, held):
        """Every secret is on one of the admin's pages: the host's USB
        devices (host, ids, serials, the holders' names and links), the
        held device's grants (project demo's id).
        """
        b = self.browser
        self.login('admin', landing='/admin/usb_devices/')
        b.element('#host_usb_devices')
        seen = b.source()
        b.open('/admin/usb_devices/%s/%s/grants/' % (host, held))
        b.element('#device_grants')
        seen += b.source()
        unseen = ['%s (%s)' % (value, what) for value, what in
                  sorted(secrets.items()) if value not in seen]
        if unseen:
            raise Failure('not on the admin\'s pages, so their absence '
                          'proves nothing: %s' % ', '.join(unseen))

    def _shows_nothing_of_demo(self, secrets, name, typed=()):
        """The page's PNG into OTHER_PROJECT_SCREENSHOTS; fails when its
        HTML holds a secret other than the values in ``typed``.
        """
        b = self.browser
        b.screenshot(name, OTHER_PROJECT_SCREENSHOTS)
        source = b.source()
        shown = ['%s (%s)' % (value, what) for value, what in
                 sorted(secrets.items())
                 if value in source and value not in typed]
        if shown:
            raise Failure('other-member sees on %s (%s): %s'
                          % (name, b.driver.current_url, ', '.join(shown)))

    def _walk_as_other_project(self, held):
        b = self.browser
        host, devices = self.admin.host_devices()
        secrets = self._demo_secrets(host, devices)
        other = Cloud(self.sandbox, 'other-member', 'other')
        # Built while the admin's pages load.
        own = other.create('other-server')
        self._admin_sees(secrets, host, held)
        own = other.wait_status(own.id, 'ACTIVE')
        offered = other.usb.list_available_devices(own.id)
        if offered:
            raise Failure('project other is offered %s'
                          % [d['id'] for d in offered])

        # Its own pages: the panel's index (the instances), its server's
        # USB tab, the attach form, the controller form, the detach form.
        # Each page is checked first, so that a failure names what leaked.
        self.login('other-member', landing='/project/usb_devices/')
        b.element('#instances__row__%s' % own.id)
        self._shows_nothing_of_demo(secrets, '01-instances')
        b.usb_tab(own)
        b.element('#usb_controllers')
        self._shows_nothing_of_demo(secrets, '02-own-server-usb-tab')
        if b.elements('[id^="usb_devices__row__"]'):
            raise Failure('its server lists devices: %s'
                          % b.text_of('#usb_devices'))
        b.element('#usb_devices__action_attach').click()
        b.element('#attach_usb_device_form')
        self._shows_nothing_of_demo(secrets, '03-attach-form-empty')
        if [v for v in b.option_values('id_device') if v]:
            raise Failure('the attach form offers %s'
                          % b.option_values('id_device'))
        # The device demo's server holds, sent as a hand-made request
        # would: refused as a device the host does not have, neither its
        # holder nor its host named.
        b.choose_unoffered('id_device', held)
        b.modal_submit()
        refusal = b.text_of('#attach_usb_device_form .alert-danger')
        if 'not on the server\'s host' not in refusal:
            raise Failure('the attach of a demo device reads %r' % refusal)
        self._shows_nothing_of_demo(secrets, '04-attach-demo-device-refused',
                                    typed=(held,))
        if held not in [d['id'] for d in
                        self.member.usb.list_server_devices(self.running.id)]:
            raise Failure('the demo server lost %s' % held)
        b.open('/project/usb_devices/%s/controllers/add/' % own.id)
        b.element('#add_usb_controller_form')
        self._shows_nothing_of_demo(secrets, '05-add-controller-form')
        b.open('/project/usb_devices/%s/devices/%s/detach/'
               % (own.id, held))
        b.element('#detach_usb_device_form')
        self._shows_nothing_of_demo(secrets, '06-detach-form-demo-device',
                                    typed=(held,))
        b.modal_submit()
        b.text_of('#detach_usb_device_form .alert-danger')
        self._shows_nothing_of_demo(secrets, '07-detach-demo-device-refused',
                                    typed=(held,))

        # demo's servers by their URLs: Horizon sends the member back to
        # its instances, nova-usb's pages too.
        for name, path, typed in (
                ('08-demo-server-usb-tab',
                 '/project/instances/%s/?tab=instance_details__usb_devices'
                 % self.running.id, (self.running.id,)),
                ('09-demo-server-attach',
                 '/project/usb_devices/%s/attach/' % self.running.id,
                 (self.running.id,)),
                ('10-demo-server-detach',
                 '/project/usb_devices/%s/devices/%s/detach/'
                 % (self.running.id, held),
                 (self.running.id, held)),
                ('11-demo-server-add-controller',
                 '/project/usb_devices/%s/controllers/add/' % self.stopped.id,
                 (self.stopped.id,)),
                ('12-demo-server-remove-controller',
                 '/project/usb_devices/%s/controllers/0/remove/'
                 % self.stopped.id, (self.stopped.id,))):
            b.open(path)
            b.element('#instances__row__%s' % own.id)
            if b.path() != '/project/instances/':
                raise Failure('%s: not sent back to the instances (%s)'
                              % (path, b.driver.current_url))
            self._shows_nothing_of_demo(secrets, name, typed)

        # The devices table's row update (an XMLHttpRequest, as Horizon's
        # poll of a detaching row sends it) for demo's server and device:
        # no row comes back, and nothing of demo.
        path = ('/project/usb_devices/%s/devices/?action=row_update'
                '&table=usb_devices&obj_id=%s' % (self.running.id, held))
        status, body = b.driver.execute_script(
            'var r = new XMLHttpRequest(); r.open("GET", arguments[0], false);'
            'r.setRequestHeader("X-Requested-With", "XMLHttpRequest");'
            'r.send(); return [r.status, r.responseText];', path)
        shown = [value for value in secrets
                 if value in body and value not in (self.running.id, held)]
        if 'usb_devices__row' in body or shown:
            raise Failure('the row update of a demo device answers %s: %s'
                          % (status, shown or body[:300]))
        # Its refusal is shown on the next page, with Nova's 404 for the
        # server id the member sent, and nothing else of demo.
        b.open('/project/instances/')
        b.element('#instances__row__%s' % own.id)
        self._shows_nothing_of_demo(secrets, '12b-demo-device-row-update',
                                    (self.running.id, held))

        # The admin panel's pages.
        for name, path in (
                ('13-admin-usb-devices', '/admin/usb_devices/'),
                ('14-admin-device-grants', '/admin/usb_devices/%s/%s/grants/'
                 % (host, held)),
                ('15-admin-grant-form', '/admin/usb_devices/%s/%s/grants/add/'
                 % (host, held))):
            b.open(path)
            b.wait_text('You are not authorized to access this page')
            self._shows_nothing_of_demo(secrets, name)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tests.dashboard.run')
    parser.add_argument('--screenshots', default=SCREENSHOTS,
                        help='where the PNGs go (default: %(default)s; '
                             'doc/source/user/dashboard for the docs)')
    parser.add_argument('--only', action='append', metavar='NAME',
                        help='run the scenarios whose name contains NAME '
                             '(repeatable; default: all)')
    args = parser.parse_args(argv)
    names = sorted(name for name in dir(Scenarios)
                   if name.startswith('test_') and (
                       not args.only or any(o in name for o in args.only)))
    if not names:
        parser.error('no scenario matches %s' % ', '.join(args.only))
    results = []
    began = time.monotonic()
    sandbox = Sandbox()
    browser = None
    try:
        sandbox.wait_ready()
        print('sandbox with dashboard ready in %.1f s'
              % sandbox.ready_seconds, flush=True)
        browser = Browser(sandbox.dashboard_url, args.screenshots)
        scenarios = Scenarios(sandbox, browser)
        for name in names:
            start = time.monotonic()
            try:
                getattr(scenarios, name)()
            except Exception as error:
                results.append((name, False))
                print('FAIL %s (%.1f s): %s' % (
                    name, time.monotonic() - start, error), flush=True)
                if not isinstance(error, Failure):
                    traceback.print_exc()
                browser.screenshot('failed-' + name)
            else:
                results.append((name, True))
                print('PASS %s (%.1f s)' % (name, time.monotonic() - start),
                      flush=True)
    except Exception as error:
        results.append(('setup', False))
        print('FAIL setup: %s' % error, flush=True)
        traceback.print_exc()
        print('\n'.join(sandbox.lines[-40:]))
    finally:
        if browser is not None:
            browser.quit()
        sandbox.stop(STOP_TIMEOUT)
    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    print('took %.1f s' % (time.monotonic() - began))
    print('dashboard: %d passed, %d failed' % (passed, failed))
    return 0 if failed == 0 and passed else 1


if __name__ == '__main__':
    sys.exit(main())
