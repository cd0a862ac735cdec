"""The tables the demo organization is drawn from: departments, cities, names and SKUs."""

from __future__ import annotations

import functools
import random
import re
import unicodedata
from dataclasses import dataclass

DOMAIN = "demo.example.org"
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
PBI = "f8a1db68-be16-40ed-86d5-cb42ce701560"
VISIO = "c5928f49-12ba-48f7-ada3-0d743a3601d5"
#: skuId → (skuPartNumber, its main service plans); the rate card prices SPE_E3 only.
SKUS = {
    E3: ("SPE_E3", "EXCHANGE_S_ENTERPRISE efb87545-963c-4e0d-99df-69c6916d9eb0 "
         "SHAREPOINTENTERPRISE 5dbe027f-2339-4123-9542-606e4d348a72 "
         "OFFICESUBSCRIPTION 43de0ff5-c92c-492b-9116-175376d08c38 "
         "MCOSTANDARD 0feaeb32-d00e-4d66-bd5a-43b5b83db82c "
         "TEAMS1 57ff2da0-773e-42df-b2af-ffb7a2317929"),
    PBI: ("POWER_BI_PRO", "EXCHANGE_S_FOUNDATION 113feb6c-3fe4-4440-bddc-54d774bf0318 "
          "BI_AZURE_P2 70d33638-9c74-4d01-bfd3-562de28bd4ba"),
    VISIO: ("VISIOCLIENT", "EXCHANGE_S_FOUNDATION 113feb6c-3fe4-4440-bddc-54d774bf0318 "
            "VISIOONLINE 2bdbaf8f-738f-4ac7-9234-3c3ee2ce7d0f "
            "VISIO_CLIENT_SUBSCRIPTION 663a804f-1c30-4ff0-9915-9db84f0d1cea"),
}  # fmt: skip

# name|device-pool suffix|relative size; the first eight mix large and small departments.
DEPARTMENTS = """Office of the Director-General|ODG|1.2
Finance|FIN|3.5
Human Resources|HR|3
Field Operations|FOPS|14
Legal Affairs|LEG|1.5
Information & Communications Technology|ICT|5
Procurement|PROC|2.2
Ethics Office|ETH|0.25
Programme Planning & Budget|PPB|1.4
Conference Services|CONF|3.5
Translation & Interpretation|TRAN|4
Security & Safety|SEC|3
Facilities Management|FAC|2.2
Communications & Public Information|COMM|2
Internal Oversight|OIO|1
Treasury|TRE|0.8
Statistics|STAT|2.5
Research|RES|3
Partnerships & Resource Mobilization|PRM|1.6
External Relations|EXR|1.2
Protocol|PROT|0.35
Regional Office for Africa|RAF|6
Regional Office for Asia & the Pacific|RAP|5.5
Regional Office for Europe|REU|3
Regional Office for Latin America & the Caribbean|RLC|4
Regional Office for the Middle East|RME|3.5
Liaison Office New York|LONY|0.8
Humanitarian Affairs|HUM|6
Emergency Response|EMR|4.5
Health & Wellbeing|HWB|1.2
Gender Equality & Inclusion|GEN|0.7
Environment & Sustainability|ENV|1.5
Library & Archives|LIB|0.9
Publications|PUB|1.1
Learning & Development|LRN|1.3
Supply Chain|SUP|5
Data Protection Office|DPO|0.2
Office of the Ombudsman|OMB|0.15
Medical Service|MED|0.8
Travel & Visa Services|TRV|0.6
Records Management|REC|0.5
Risk Management|RISK|0.4
Policy & Strategy|POL|1
Evaluation|EVAL|0.7"""
_CITIES = """Geneva New_York Vienna Nairobi Bangkok Rome Paris Montreal Santiago Beirut
Addis_Ababa Bonn Copenhagen Panama"""
_FIRST_NAMES = """Maria José Zoë Amélie François Jürgen Søren Åsa Björn Chloé Hélène Inês João
Łukasz Małgorzata Aisha Amina Kwame Chinedu Fatima Omar Youssef Priya Rahul Anjali Wei Mei Hiroshi
Yuki Min-jun Ji-woo Olga Ivan Dmitri Elena Ana Carlos Lucía Sofía Mateo Diego Valentina
Camila Juan Pedro Giulia Marco Francesca Luca Anna Peter John Sarah Emily James Michael
David Laura Thomas Sophie Emma Liam Noah Olivia Ingrid Lars Nils Eero Aino Mehmet Ayşe
Zeynep Emre Minh Tuấn Linh Kofi Abebe Tigist Mohammed Leila Reza Nasrin Sipho Thandiwe
Nomvula Gabriel Léa Raphaël Noémie Ángel Beatriz Renée Dagný Þór Ödön Ģirts"""
_LAST_NAMES = """Müller,García,Martínez,Rodríguez,González,López,Hernández,Pérez,Núñez,Côté,
Lefèvre,Dubois,Moreau,Girard,Rossi,Bianchi,Romano,Colombo,Schmidt,Schneider,Fischer,Weber,Wagner,Becker,
Hoffmann,Schäfer,Jensen,Nielsen,Hansen,Larsen,Andersson,Johansson,Nyström,Kowalski,Nowak,
Wiśniewski,Wójcik,Dvořák,Novák,Horváth,Nagy,Popescu,Ionescu,Petrović,Jovanović,Yılmaz,Kaya,
Demir,Çelik,Öztürk,Ivanov,Petrov,Smirnov,Kuznetsova,Papadopoulos,Georgiou,Okafor,Mensah,Osei,
Adeyemi,Kamau,Mwangi,Otieno,Haile,Tesfaye,Diallo,Traoré,Ndiaye,Sow,Khan,Ahmed,Hussain,Rahman,
Sharma,Patel,Singh,Gupta,Iyer,Nguyễn,Trần,Phạm,Chen,Wang,Zhang,Liu,Tanaka,Suzuki,Sato,Kim,
Park,Silva,Santos,Oliveira,Souza,Pereira,Costa,Ferreira,Smith,Johnson,Brown,Taylor,Wilson,
O'Brien,MacDonald,Murphy,Kelly,Cohen,Levi,Haddad,Khoury,Mansour,Nasser,da Silva,van der Berg,
El Amrani,Øster,Strauß,Læssøe"""
CITIES, FIRST_NAMES = _CITIES.split(), _FIRST_NAMES.split()
LAST_NAMES = [name.strip() for name in _LAST_NAMES.split(",")]
#: Names in non-Latin scripts, with the romanized UPN local part the directory gives them.
_NON_LATIN = """王小明|wang.xiaoming,李娜|li.na,張偉|zhang.wei,田中さくら|tanaka.sakura,
김민준|kim.minjun,Дмитрий Иванов|dmitry.ivanov,Ольга Смирнова|olga.smirnova,أحمد حسن|ahmed.hassan,
فاطمة الزهراء|fatima.alzahraa,राहुल शर्मा|rahul.sharma,Γιώργος Παπαδόπουλος|giorgos.papadopoulos,
אורי כהן|uri.cohen,สมชาย ใจดี|somchai.jaidee"""
NON_LATIN_NAMES = [tuple(pair.strip().split("|")) for pair in _NON_LATIN.split(",")]
_FOLD = str.maketrans({"ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "Ae", "ł": "l", "Ł": "L",
                       "đ": "d", "Đ": "D", "ı": "i", "þ": "th", "Þ": "Th"})  # fmt: skip


@dataclass(frozen=True)
class Department:
    """One department of the demo organization and where its desk phones sit."""

    name: str
    abbr: str
    weight: float
    city: str
    pool: str
    routed: bool  # its pool is its own: [routing.device_pools] maps it to the department
    focal_point: bool


def draw_departments(rng: random.Random, count: int) -> list[Department]:
    """The first ``count`` departments of the table (then country offices), sizes jittered."""
    table = [tuple(line.split("|")) for line in DEPARTMENTS.splitlines()]
    table += [(f"Country Office {n}", f"CO{n}", "0.5") for n in range(1, count - len(table) + 1)]
    table = table[:count]
    weights = [float(w) * rng.uniform(0.85, 1.15) for _, _, w in table]
    cities = [CITIES[0] if rng.random() < 0.5 else rng.choice(CITIES) for _ in table]
    # The smallest one or two departments have no focal point: the unassigned queue.
    without = 0 if count < 2 else 1 if count < 20 else 2
    smallest = sorted(range(count), key=lambda i: (weights[i], i))[:without]
    # The two largest with a focal point get device pools of their own ([routing.device_pools]).
    largest = [i for i in sorted(range(count), key=lambda i: (-weights[i], i)) if i not in smallest]
    return [
        Department(
            name=name,
            abbr=abbr,
            weight=weights[i],
            city=cities[i].replace("_", " "),
            pool=f"DP_{cities[i].upper()}" + (f"_{abbr}" if i in largest[:2] else ""),
            routed=i in largest[:2],
            focal_point=i not in smallest,
        )
        for i, (name, abbr, _) in enumerate(table)
    ]


@functools.cache
def ascii_part(name: str) -> str:
    """A name as a UPN part: "Ñúñez" → "nunez", "O'Brien" → "obrien", "da Silva" → "dasilva"."""
    folded = unicodedata.normalize("NFKD", name.translate(_FOLD)).encode("ascii", "ignore")
    return re.sub(r"[^a-z0-9-]", "", folded.decode().lower())
