"""The shell of the site in a real browser: login, role home pages, language switch, keyboard."""


def test_login_page_is_accessible_and_wrong_password_is_explained(new_page, check_a11y, demo):
    page = new_page()
    page.goto("/connexion/")
    check_a11y(page)
    page.get_by_label("Adresse électronique").fill(demo.citizen)
    page.get_by_label("Mot de passe").fill("pas-le-bon")
    page.locator("main").get_by_role("button", name="Se connecter").click()
    assert "incorrect" in page.locator("main [role=alert]").inner_text()
    # What was typed is kept.
    assert page.get_by_label("Adresse électronique").input_value() == demo.citizen
    check_a11y(page)


def test_citizen_lands_in_personal_space_and_agent_in_console(new_page, check_a11y, demo):
    citizen = new_page(demo.citizen)
    assert "/espace/" in citizen.url
    check_a11y(citizen)
    agent = new_page(demo.agent_fiscalite)
    assert "/console/" in agent.url
    check_a11y(agent)


def test_keyboard_only_login(new_page, demo):
    page = new_page()
    page.goto("/connexion/")
    page.get_by_label("Adresse électronique").focus()
    page.keyboard.type(demo.citizen)
    page.keyboard.press("Tab")
    page.keyboard.type(demo.password)
    page.keyboard.press("Enter")
    page.wait_for_url("**/espace/**")


def test_interface_switches_to_english(new_page, demo):
    page = new_page(demo.citizen)
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state("domcontentloaded")
    assert page.locator("html").get_attribute("lang") == "en"
    # The catalogue is compiled by bin/setup: the personal space reads in English.
    assert page.get_by_role("heading", level=1).inner_text() == "My requests"
    page.get_by_role("button", name="Français").click()
    page.wait_for_load_state("domcontentloaded")
    assert page.get_by_role("heading", level=1).inner_text() == "Mes demandes"
