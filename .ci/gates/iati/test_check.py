"""Tests of the IATI gate's checker: a clean activity passes, and each planted violation
is caught with its rule. Run: python -m unittest discover -s .ci/gates/iati"""

import datetime as dt
import json
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import check  # noqa: E402

NOW = dt.datetime(2026, 12, 7, 12, 0, 0)

ACTIVITY = """<iati-activity last-updated-datetime="2026-12-01T10:00:00Z" xml:lang="en" default-currency="USD" hierarchy="1">
 <iati-identifier>XI-IATI-OAS-PE-DEM-2026-01</iati-identifier>
 <reporting-org ref="XI-IATI-OAS" type="40"><narrative>Organization of American States</narrative></reporting-org>
 <title><narrative>Strengthening electoral management bodies</narrative><narrative xml:lang="es">Fortalecimiento de los organismos electorales</narrative></title>
 <description type="1"><narrative>Technical assistance to the electoral authority.</narrative></description>
 <participating-org role="1" ref="XM-DAC-7" type="10"><narrative>Donor</narrative></participating-org>
 <participating-org role="4" ref="PE-RUC-20504915523" type="10"><narrative>Agencia</narrative></participating-org>
 <activity-status code="2"/>
 <activity-date type="2" iso-date="2025-03-01"/>
 <activity-date type="3" iso-date="2027-02-28"/>
 <recipient-country code="PE" percentage="100"/>
 <sector vocabulary="1" code="15151" percentage="60"/>
 <sector vocabulary="1" code="15160" percentage="40"/>
 <sector vocabulary="99" code="democracy" percentage="100"><narrative>Democracy</narrative></sector>
 <budget type="1" status="2"><period-start iso-date="2025-03-01"/><period-end iso-date="2025-12-31"/><value currency="USD" value-date="2025-03-01">1000.00</value></budget>
 <budget type="1" status="2"><period-start iso-date="2026-01-01"/><period-end iso-date="2026-12-31"/><value currency="USD" value-date="2026-01-01">1200.00</value></budget>
 <transaction ref="t1">
  <transaction-type code="4"/>
  <transaction-date iso-date="2026-05-02"/>
  <value currency="USD" value-date="2026-05-02">120.50</value>
  <description><narrative>Travel</narrative></description>
  <provider-org ref="XI-IATI-OAS" type="40"><narrative>Organization of American States</narrative></provider-org>
  <receiver-org ref="PE-RUC-20504915523" type="10"><narrative>Agencia</narrative></receiver-org>
 </transaction>
</iati-activity>"""


def document(activity=ACTIVITY):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<iati-activities version="2.03" generated-datetime="2026-12-07T10:00:00Z">\n'
            + activity + "\n</iati-activities>\n")


class Checker(unittest.TestCase):
    def findings(self, activity=ACTIVITY, ruleset=None):
        with tempfile.TemporaryDirectory() as d:
            f = Path(d) / "a.xml"
            f.write_text(document(activity), encoding="utf-8")
            rs = check.REF / "rulesets" / "standard.json"
            if ruleset is not None:
                rs = Path(d) / "rules.json"
                rs.write_text(json.dumps(ruleset))
            _, found = check.check(f, ruleset_path=rs, now=NOW)
            return found

    def rules(self, activity):
        return {(f.severity, f.rule) for f in self.findings(activity)}

    def planted(self, old, new, severity, rule, count=1):
        self.assertIn(old, ACTIVITY)
        found = self.rules(ACTIVITY.replace(old, new, count))
        self.assertIn((severity, rule), found)

    def test_a_clean_activity_passes(self):
        self.assertEqual([str(f) for f in self.findings()], [])

    def test_every_rule_type_of_the_standard_ruleset_is_implemented(self):
        ruleset = json.loads((check.REF / "rulesets" / "standard.json").read_text())
        used = set()
        for rules in ruleset.values():
            for name, body in rules.items():
                used.add(name)
                if name == "loop":
                    for c in body["cases"]:
                        used.update(c["do"].keys())
        self.assertEqual(used - check.KNOWN, set())

    def test_an_unknown_rule_type_fails_the_gate(self):
        found = self.findings(ruleset={"/iati-activities/iati-activity": {
            "frobnicate": {"cases": [{"paths": ["x"], "ruleInfo": {"id": "9.9.9", "severity": "warning"}}]}}})
        self.assertEqual([(f.severity, f.rule) for f in found], [("error", "9.9.9")])
        found = self.findings(ruleset={"/iati-activities/iati-activity": {
            "one_or_all": {"cases": [{"one": "@x", "all": "nope", "ruleInfo": {"id": "9.9.8"}}]}}})
        self.assertEqual([(f.severity, f.rule) for f in found], [("error", "9.9.8")])

    # Planted violations, each caught by its rule.

    def test_no_sector(self):
        activity = "\n".join(line for line in ACTIVITY.split("\n") if "<sector" not in line)
        self.assertIn(("error", "6.2.2"), self.rules(activity))

    def test_sector_percentages_not_summing_to_100(self):
        self.planted('percentage="40"/>', 'percentage="30"/>', "error", "2.1.2")

    def test_unknown_and_withdrawn_sector_codes(self):
        self.planted('code="15160"', 'code="99999"', "error", "codelist:Sector")
        self.planted('code="15160"', 'code="15162"', "warning", "codelist:Sector")

    def test_a_budget_longer_than_a_year(self):
        self.planted('<period-end iso-date="2025-12-31"/>', '<period-end iso-date="2026-03-02"/>', "error", "7.5.3")
        # 365 days is a year: allowed.
        activity = ACTIVITY.replace('<period-end iso-date="2025-12-31"/>', '<period-end iso-date="2026-03-01"/>', 1)
        self.assertNotIn(("error", "7.5.3"), self.rules(activity))

    def test_a_budget_ending_before_it_starts(self):
        self.planted('<period-end iso-date="2025-12-31"/>', '<period-end iso-date="2025-01-31"/>', "error", "8.6.3")

    def test_a_transaction_in_the_future(self):
        self.planted('<transaction-date iso-date="2026-05-02"/>', '<transaction-date iso-date="2027-05-02"/>', "error", "11.2.1")
        self.planted('value-date="2026-05-02"', 'value-date="2027-05-02"', "error", "11.2.2")

    def test_a_value_without_currency_and_no_default(self):
        activity = ACTIVITY.replace(' default-currency="USD"', '')
        self.assertEqual([f.rule for f in self.findings(activity)], [])  # every value has @currency
        activity = activity.replace('<value currency="USD" value-date="2026-05-02">', '<value value-date="2026-05-02">')
        self.assertIn(("error", "7.8.1"), self.rules(activity))

    def test_an_unknown_currency(self):
        self.planted('currency="USD" value-date="2026-05-02"', 'currency="XXY" value-date="2026-05-02"', "error", "codelist:Currency")

    def test_identifiers(self):
        self.planted("<iati-identifier>XI-IATI-OAS-", "<iati-identifier>OAS-", "warning", "1.1.21")
        self.planted('reporting-org ref="XI-IATI-OAS"', 'reporting-org ref="QQ-NOPE-OAS"', "warning", "1.14.8")
        self.planted("<iati-identifier>XI-IATI-OAS-PE-DEM-2026-01", "<iati-identifier>XI-IATI-OAS-PE/DEM", "warning", "1.3.13")
        self.planted('participating-org role="4" ref="PE-RUC-20504915523"', 'participating-org role="4" ref=" PE-RUC-1"', "warning", "1.8.1")

    def test_an_actual_start_in_the_future(self):
        self.planted('<activity-date type="2" iso-date="2025-03-01"/>', '<activity-date type="2" iso-date="2027-01-01"/>', "error", "11.1.4")

    def test_last_updated_in_the_future(self):
        self.planted('last-updated-datetime="2026-12-01T10:00:00Z"', 'last-updated-datetime="2027-12-01T10:00:00Z"', "error", "11.1.1")

    def test_a_narrative_without_language_and_no_default(self):
        self.planted(' xml:lang="en" default-currency', ' default-currency', "error", "4.1.1")

    def test_an_empty_title(self):
        activity = ACTIVITY.replace(
            "<title><narrative>Strengthening electoral management bodies</narrative><narrative xml:lang=\"es\">Fortalecimiento de los organismos electorales</narrative></title>",
            "<title><narrative/></title>")
        self.assertIn(("error", "4.3.1"), self.rules(activity))

    def test_a_vocabulary_99_sector_without_narrative(self):
        self.planted('percentage="100"><narrative>Democracy</narrative></sector>', 'percentage="100"/>', "error", "2.2.1")

    def test_a_schema_violation(self):
        # reporting-org after title: out of the schema's order.
        activity = ACTIVITY.replace(
            ' <reporting-org ref="XI-IATI-OAS" type="40"><narrative>Organization of American States</narrative></reporting-org>\n', "")
        activity = activity.replace(" <activity-status", ' <reporting-org ref="XI-IATI-OAS" type="40"><narrative>OAS</narrative></reporting-org>\n <activity-status')
        self.assertIn(("error", "schema"), self.rules(activity))

    def test_an_unknown_organisation_type_and_role(self):
        self.planted('role="4" ref="PE-RUC-20504915523" type="10"', 'role="9" ref="PE-RUC-20504915523" type="10"', "error", "codelist:OrganisationRole")

    def test_a_second_country_without_percentages_summing(self):
        self.planted('<recipient-country code="PE" percentage="100"/>',
                     '<recipient-country code="PE" percentage="60"/><recipient-country code="CO" percentage="30"/>', "error", "3.1.2")


if __name__ == "__main__":
    unittest.main()
