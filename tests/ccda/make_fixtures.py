#!/usr/bin/env python3
"""Writes the FHIR twins of the C-CDA rule fixtures (tests/ccda/twins/*.json) and their C-CDA
documents (tests/ccda/*.xml, through build/bin/ppmg_fhir_to_ccda and `xmllint --format`), for every
case of tests/ccda/cases.json whose "made" is "converter". Cases marked "handwritten" are C-CDA
documents written by hand (other shapes of the same facts); this script leaves them alone.

Not run by CI: the fixtures are committed. Rerun it after changing a twin below, then review the
diff. Usage: tests/ccda/make_fixtures.py [BUILD_DIR]
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "build")
AS_OF = "2025-11-15"

SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
PPM = "urn:oid:2.25.318214975805081609918790724903688664766.1"


def day(n, time="T08:00:00Z"):
    """The date n days before the as-of date (negative: after), with a time."""
    import datetime
    d = datetime.date.fromisoformat(AS_OF) - datetime.timedelta(days=n)
    return d.isoformat() + time


class Twin:
    def __init__(self, gender="female", birth="1992-04-01", background=True, medication=True):
        self.n = 0
        self.entries = [{
            "resourceType": "Patient", "id": "pat-1",
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.19.5.1", "value": "MRN-1"}],
            "name": [{"family": "Fixture", "given": ["Test"]}], "gender": gender, "birthDate": birth}]
        if background:  # the hand-written documents date their resolved pregnancy
            self.condition(SCT, "72892002", "Normal pregnancy", clinical="resolved",
                           onset="2025-01-01" if background == "dated" else None)
            if medication:
                self.statement(RXNORM, "161", "Acetaminophen")

    def id(self, kind):
        self.n += 1
        return f"{kind}-{self.n}"

    @staticmethod
    def concept(system, code, display):
        return {"coding": [{"system": system, "code": code, "display": display}]}

    def subject(self):
        return {"reference": "Patient/pat-1"}

    def procedure(self, code, display, when, status="completed"):
        self.entries.append({"resourceType": "Procedure", "id": self.id("proc"), "status": status,
                             "code": self.concept(SCT, code, display), "subject": self.subject(),
                             "performedDateTime": when})
        return self

    def condition(self, system, code, display, clinical="active", verification=None, onset=None, text=None,
                  more=()):
        r = {"resourceType": "Condition", "id": self.id("cond")}
        if clinical:
            r["clinicalStatus"] = {"coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": clinical}]}
        if verification:
            r["verificationStatus"] = {"coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]}
        r["code"] = self.concept(system, code, display) if code else {}
        for c in more:
            r["code"]["coding"].append({"system": c[0], "code": c[1], "display": c[2]})
        if text:
            r["code"]["text"] = text
        r["subject"] = self.subject()
        if onset:
            r["onsetDateTime"] = onset
        self.entries.append(r)
        return self

    def quantity(self, loinc, display, value, unit, when):
        self.entries.append({"resourceType": "Observation", "id": self.id("obs"), "status": "final",
                             "code": self.concept(LOINC, loinc, display), "subject": self.subject(),
                             "effectiveDateTime": when,
                             "valueQuantity": {"value": value, "unit": unit,
                                               "system": "http://unitsofmeasure.org", "code": unit}})
        return self

    def blood_pressure(self, systolic, diastolic, when):
        return (self.quantity("8480-6", "Systolic blood pressure", systolic, "mm[Hg]", when)
                .quantity("8462-4", "Diastolic blood pressure", diastolic, "mm[Hg]", when))

    def wound(self, status, when):
        self.entries.append({"resourceType": "Observation", "id": self.id("wound"), "status": "final",
                             "code": self.concept(PPM, "cs-wound-status", "Caesarean wound status"),
                             "subject": self.subject(), "effectiveDateTime": when,
                             "valueCodeableConcept": self.concept(PPM, status, status)})
        return self

    def delivery_date(self, when):
        self.entries.append({"resourceType": "Observation", "id": self.id("dd"), "status": "final",
                             "code": self.concept(LOINC, "93857-1", "Date and time of obstetric delivery"),
                             "subject": self.subject(), "effectiveDateTime": when, "valueDateTime": when})
        return self

    def request(self, code, display, status="active", authored=None):
        r = {"resourceType": "MedicationRequest", "id": self.id("mr"), "status": status, "intent": "order",
             "medicationCodeableConcept": self.concept(RXNORM, code, display), "subject": self.subject()}
        if authored:
            r["authoredOn"] = authored
        self.entries.append(r)
        return self

    def statement(self, system, code, display, status="active", effective=None):
        r = {"resourceType": "MedicationStatement", "id": self.id("ms"), "status": status,
             "medicationCodeableConcept": self.concept(system, code, display), "subject": self.subject()}
        if effective:
            r["effectiveDateTime"] = effective
        self.entries.append(r)
        return self

    def allergy(self, code, display, clinical="active"):  # noqa: the clinical status as FHIR writes it
        self.entries.append({
            "resourceType": "AllergyIntolerance", "id": self.id("al"),
            "clinicalStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": clinical}]},
            "code": self.concept(SCT, code, display), "patient": self.subject()})
        return self

    def encounter(self, code, display, start):
        self.entries.append({"resourceType": "Encounter", "id": self.id("enc"), "status": "finished",
                             "type": [self.concept(SCT, code, display)], "subject": self.subject(),
                             "period": {"start": start}})
        return self

    def json(self):
        return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in self.entries]}


def vaginal(n):
    return Twin().procedure("177184002", "Normal delivery procedure", day(n))


def caesarean(n):
    return Twin().procedure("11466000", "Cesarean section", day(n))


# name -> the FHIR twin. The outcomes each is expected to give are in cases.json.
TWINS = {
    "app-01-man-no-delivery": lambda: Twin(gender="male", birth="1980-01-01"),
    "app-02-no-delivery": lambda: Twin(),
    "app-03-delivery-after-as-of": lambda: Twin().procedure("177184002", "Normal delivery procedure", day(-3)),
    "time-01-vaginal-day-6": lambda: vaginal(6),
    "time-02-caesarean-day-20": lambda: caesarean(20),
    "time-02-caesarean-healed": lambda: caesarean(31).wound("healed", day(5)),
    "time-02-caesarean-infected": lambda: caesarean(31).wound("infected", day(2)),
    "time-02-caesarean-no-wound-status": lambda: caesarean(31),
    "time-05-delivery-date-only": lambda: Twin().delivery_date(day(10)),
    "esc-01-dvt": lambda: vaginal(20).condition(SCT, "128053003", "Deep venous thrombosis", verification="provisional"),
    "esc-02-haemorrhage-icd10cm": lambda: vaginal(20).condition(ICD10CM, "O72.1", "Other immediate postpartum hemorrhage"),
    "esc-03-sepsis": lambda: vaginal(20).condition(SCT, "91302008", "Sepsis"),
    "esc-04-fever-tachycardia": lambda: vaginal(20).quantity("8310-5", "Body temperature", 38.4, "Cel", day(1))
    .quantity("8867-4", "Heart rate", 112, "/min", day(1)),
    "esc-05-severe-pre-eclampsia": lambda: vaginal(20).condition(SCT, "46764007", "Severe pre-eclampsia"),
    "esc-06-severe-hypertension": lambda: vaginal(20).blood_pressure(165, 112, day(1)),
    "blk-01-fever": lambda: vaginal(20).quantity("8310-5", "Body temperature", 38.6, "Cel", day(1)),
    "blk-02-platelets-below-50": lambda: vaginal(20).quantity("777-3", "Platelets", 42, "10*3/uL", day(2)),
    "blk-03-wound-complication": lambda: caesarean(40).condition(SCT, "200125006", "Infection of obstetric surgical wound")
    .wound("healing", day(3)),
    "blk-04-breast-abscess": lambda: vaginal(20).condition(ICD10CM, "O91.12", "Abscess of breast associated with the puerperium"),
    "rev-01-hypertension-150-100": lambda: vaginal(20).blood_pressure(152, 102, day(1)),
    "rev-02-platelets-75": lambda: vaginal(20).quantity("777-3", "Platelets", 75, "10*3/uL", day(2)),
    "rev-03-warfarin-without-inr": lambda: vaginal(20).request("11289", "Warfarin"),
    "rev-04-hypertensive-disorder-no-bp": lambda: vaginal(20).condition(SCT, "48194001", "Pregnancy-induced hypertension"),
    "rev-05-no-condition": lambda: strip(vaginal(20), "Condition"),
    "prec-01-enoxaparin": lambda: vaginal(20).request("67108", "Enoxaparin", authored=day(19)),
    "prec-02-no-medication": lambda: strip(vaginal(20), "MedicationStatement"),
    "prec-03-bp-140-90": lambda: vaginal(20).blood_pressure(142, 92, day(1)),
    "prec-04-mastitis": lambda: vaginal(20).condition(ICD10CM, "O91.22", "Nonpurulent mastitis associated with the puerperium"),
    "prec-05-diastasis-recti": lambda: vaginal(20).condition(ICD10CM, "M62.08", "Separation of muscle (nontraumatic), other site"),
    "prec-06-episiotomy": lambda: Twin().procedure("85548006", "Episiotomy", day(10)),
    "prec-07-latex-allergy": lambda: vaginal(20).allergy("300916003", "Latex allergy"),
    "semantics-resolved-dvt": lambda: vaginal(20).condition(SCT, "128053003", "Deep venous thrombosis", clinical="resolved"),
    "semantics-refuted-dvt": lambda: vaginal(20).condition(SCT, "128053003", "Deep venous thrombosis", verification="refuted"),
    "semantics-stopped-enoxaparin": lambda: vaginal(20).request("67108", "Enoxaparin", status="stopped"),
    "heuristic-admission-and-postnatal-visit": lambda: Twin().encounter("183460006", "Obstetric emergency hospital admission", day(20))
    .encounter("169762003", "Postnatal visit", day(5)),
    "time-06-recent-caesarean": lambda: caesarean(20).procedure("177184002", "Normal delivery procedure", day(5)),
    "rev-06-uncoded-problem": lambda: vaginal(20).condition(None, None, None, text="Painful swollen left calf"),
    "rev-07-unusable-unit": lambda: vaginal(20).quantity("777-3", "Platelets", 42, "g/L", day(2)),
    # The twins of the hand-written C-CDA documents (the same facts, as FHIR writes them).
    "ccda-r11-dvt-concern-status": lambda: delivered(when="2025-10-26").condition(
        SCT, "128053003", "Deep venous thrombosis", onset="2025-11-09T14:30:00-05:00",
        text="Deep vein thrombosis, left calf",
        more=[(ICD10CM, "I82.401", "Acute embolism and thrombosis of unspecified deep veins of right lower extremity")]),
    "ccda-delivery-in-problem-list": lambda: dated().condition(SCT, "200144004", "Deliveries by cesarean",
                                                               onset="2025-10-16T08:00:00Z"),
    "ccda-planned-heparin": lambda: delivered(),
    "ccda-negated-entries": lambda: delivered(medication=False)
    .condition(SCT, "128053003", "Deep venous thrombosis", verification="refuted", onset="2025-11-10")
    .procedure("11466000", "Cesarean section", "2025-10-26T08:00:00Z", status="not-done")
    .statement(SCT, "410942007", "Drug or medicament", status="not-taken"),
    "ccda-narrative-only": lambda: Twin(background=False),
    "ccda-vitals-degf-fever-tachycardia": lambda: delivered()
    .quantity("8310-5", "Body temperature", 101.3, "[degF]", "2025-11-14T08:00:00Z")
    .quantity("8867-4", "Heart rate", 112, "/min", "2025-11-14T08:00:00Z"),
    "ccda-r11-allergy-by-value": lambda: delivered().allergy("300916003", "Latex allergy"),
    "ccda-encounter-diagnosis-dvt": lambda: delivered()
    .encounter("4525004", "Emergency department patient visit", "2025-11-12T08:00:00Z")
    .condition(SCT, "128053003", "Deep venous thrombosis", clinical=None, onset="2025-11-12"),
    "ccda-partial-date-delivery": lambda: delivered(when="2025-10"),
    "ccda-timezone-day-14": lambda: delivered(when="2025-11-01T23:30:00-05:00"),
    "ccda-ids-repeated": lambda: bp(bp(delivered(), 170, 115, "2025-11-12T08:00:00Z"), 118, 76, "2025-11-14T08:00:00Z"),
    "ccda-two-record-targets": lambda: two_record_targets(),
    "ccda-warfarin-statement-inr": lambda: delivered(medication=False)
    .statement(RXNORM, "11289", "Warfarin", effective="2025-10-27")
    .quantity("34714-6", "INR in Blood by Coagulation assay", 2.1, "{INR}", "2025-11-12T08:00:00Z"),
}


def dated(medication=True):
    """The background of the hand-written documents: the pregnancy problem dated 2025-01-01."""
    return Twin(background="dated", medication=medication)


def delivered(medication=True, when="2025-10-26T08:00:00Z"):
    return dated(medication).procedure("177184002", "Normal delivery procedure", when)


def bp(twin, systolic, diastolic, when):
    return twin.blood_pressure(systolic, diastolic, when)


def two_record_targets():
    """Two patients (two recordTargets), and facts that name neither (as C-CDA cannot)."""
    t = Twin(background=False)
    t.entries.append({"resourceType": "Patient", "id": "pat-2",
                      "identifier": [{"system": "urn:oid:2.16.840.1.113883.19.5.1", "value": "MRN-2"}],
                      "name": [{"family": "Other", "given": ["Second"]}], "gender": "female",
                      "birthDate": "1990-02-02"})
    t.procedure("177184002", "Normal delivery procedure", "2025-10-26T08:00:00Z")
    for e in t.entries:
        e.pop("subject", None)
    return t


def strip(twin, resource_type):
    twin.entries = [e for e in twin.entries if e["resourceType"] != resource_type]
    return twin


def main():
    cases = json.load(open(os.path.join(HERE, "cases.json")))["cases"]
    tool = os.path.join(BUILD, "bin", "ppmg_fhir_to_ccda")
    os.makedirs(os.path.join(HERE, "twins"), exist_ok=True)
    for case in cases:
        name = case["name"]
        twin = os.path.join(HERE, "twins", name + ".json")
        with open(twin, "w") as f:
            json.dump(TWINS[name]().json(), f, indent=1)
            f.write("\n")
        if case.get("made") != "converter":
            continue
        raw = os.path.join(HERE, name + ".raw.xml")
        args = [tool] + (["--r11"] if case.get("r11") else []) + [twin, raw]
        subprocess.run(args, check=True)
        out = subprocess.run(["xmllint", "--format", raw], check=True, capture_output=True).stdout
        os.remove(raw)
        with open(os.path.join(HERE, name + ".xml"), "wb") as f:
            f.write(out)


if __name__ == "__main__":
    main()
