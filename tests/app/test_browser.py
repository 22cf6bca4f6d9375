"""In a real browser (headless Chromium): sign in, see the shell and the home page, at desktop and
phone width; the theme switch turns dark mode on and it is remembered. Screenshots go to
artifacts/screenshots/."""

from __future__ import annotations


from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.conftest import browser_sign_in, requires_chromedriver, wait_for

pytestmark = requires_chromedriver


def _wait(driver, condition):
    return wait_for(driver, condition, timeout=15)


def _theme(driver) -> str:
    return driver.execute_script("return document.documentElement.getAttribute('data-bs-theme')")


def test_sign_in_and_see_the_home_page_at_desktop_and_phone_width(dash_duo, app, users, screenshot_dir):
    dash_duo.start_server(app, navigate=False)
    driver = dash_duo.driver
    base = dash_duo.server.url.rstrip("/")
    driver.set_window_size(1280, 900)

    driver.get(base + "/")
    _wait(driver, EC.presence_of_element_located((By.ID, "username")))
    driver.save_screenshot(str(screenshot_dir / "login-desktop.png"))
    browser_sign_in(driver, base, "/", "admin", users["admin"])

    navbar = _wait(driver, EC.visibility_of_element_located((By.CSS_SELECTOR, ".tb-navbar")))
    assert "tradeboard" in navbar.text
    assert "Ada Admin" in navbar.text and "Sign out" in navbar.text
    _wait(driver, EC.text_to_be_present_in_element((By.ID, "home-status"), "Database"))
    status = driver.find_element(By.ID, "home-status").text
    assert "Redis" in status and "Workers" in status
    cards = driver.find_elements(By.CSS_SELECTOR, ".tb-page-card")
    assert len(cards) == sum(1 for p in __import__("dash").page_registry.values() if p["path"] != "/")
    assert _theme(driver) == "light"
    driver.save_screenshot(str(screenshot_dir / "home-desktop.png"))

    # Dark theme: the switch sets <html data-bs-theme>, and a reload remembers it.
    driver.find_element(By.CSS_SELECTOR, "#shell-theme-switch").click()
    _wait(driver, lambda d: _theme(d) == "dark")
    driver.refresh()
    _wait(driver, EC.text_to_be_present_in_element((By.ID, "home-status"), "Database"))
    assert _theme(driver) == "dark"
    driver.save_screenshot(str(screenshot_dir / "home-desktop-dark.png"))
    driver.find_element(By.CSS_SELECTOR, "#shell-theme-switch").click()
    _wait(driver, lambda d: _theme(d) == "light")

    # Phone width: no horizontal scrolling, the menu collapses behind the toggler.
    driver.set_window_size(375, 812)
    driver.refresh()
    _wait(driver, EC.text_to_be_present_in_element((By.ID, "home-status"), "Database"))
    width = driver.execute_script("return window.innerWidth")
    scroll_width = driver.execute_script("return document.documentElement.scrollWidth")
    assert scroll_width <= width, f"page is {scroll_width}px wide in a {width}px window"
    toggler = driver.find_element(By.ID, "shell-navbar-toggler")
    assert toggler.is_displayed()
    assert not driver.find_element(By.CSS_SELECTOR, ".tb-signout").is_displayed()
    driver.save_screenshot(str(screenshot_dir / "home-phone.png"))
    toggler.click()
    _wait(driver, EC.visibility_of_element_located((By.CSS_SELECTOR, ".tb-signout")))
    driver.save_screenshot(str(screenshot_dir / "home-phone-menu.png"))

    driver.find_element(By.CSS_SELECTOR, ".tb-signout").click()
    _wait(driver, EC.presence_of_element_located((By.ID, "username")))
    assert "/login" in driver.current_url
