"""Fixed French data pools of the demo generator: cities, CEE operation sheets, equipment, phone formats.

Everything here is static, so the data set only depends on the seed (and on the Faker version, which makes the
name and street pools: see :mod:`include.symphonics_demo.pools`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class City:
    """A French commune with one of its real postal codes and the approximate position of its centre.

    :param name: the commune's name as written on an address.
    :param postal_code: a real 5-digit postal code of the commune.
    :param latitude: latitude of the centre, WGS 84 degrees.
    :param longitude: longitude of the centre, WGS 84 degrees.
    """

    name: str
    postal_code: str
    latitude: float
    longitude: float


CITIES: tuple[City, ...] = (
    City("Paris", "75001", 48.8625, 2.3364),
    City("Paris", "75004", 48.8543, 2.3576),
    City("Paris", "75007", 48.8566, 2.3126),
    City("Paris", "75011", 48.8590, 2.3800),
    City("Paris", "75012", 48.8350, 2.4210),
    City("Paris", "75013", 48.8283, 2.3623),
    City("Paris", "75014", 48.8292, 2.3265),
    City("Paris", "75015", 48.8421, 2.2928),
    City("Paris", "75016", 48.8604, 2.2620),
    City("Paris", "75017", 48.8873, 2.3067),
    City("Paris", "75018", 48.8925, 2.3444),
    City("Paris", "75019", 48.8871, 2.3848),
    City("Paris", "75020", 48.8634, 2.4011),
    City("Marseille", "13001", 43.2999, 5.3841),
    City("Marseille", "13008", 43.2409, 5.3811),
    City("Marseille", "13012", 43.3080, 5.4400),
    City("Lyon", "69003", 45.7597, 4.8510),
    City("Lyon", "69007", 45.7450, 4.8420),
    City("Lyon", "69008", 45.7340, 4.8700),
    City("Villeurbanne", "69100", 45.7719, 4.8902),
    City("Toulouse", "31000", 43.6045, 1.4440),
    City("Toulouse", "31500", 43.6150, 1.4750),
    City("Nice", "06000", 43.7009, 7.2684),
    City("Nantes", "44000", 47.2184, -1.5536),
    City("Strasbourg", "67000", 48.5734, 7.7521),
    City("Montpellier", "34000", 43.6108, 3.8767),
    City("Bordeaux", "33000", 44.8378, -0.5792),
    City("Mérignac", "33700", 44.8386, -0.6436),
    City("Lille", "59000", 50.6292, 3.0573),
    City("Roubaix", "59100", 50.6942, 3.1746),
    City("Tourcoing", "59200", 50.7239, 3.1612),
    City("Dunkerque", "59140", 51.0343, 2.3768),
    City("Valenciennes", "59300", 50.3570, 3.5235),
    City("Rennes", "35000", 48.1173, -1.6778),
    City("Saint-Malo", "35400", 48.6493, -2.0257),
    City("Reims", "51100", 49.2583, 4.0317),
    City("Le Havre", "76600", 49.4944, 0.1079),
    City("Rouen", "76000", 49.4432, 1.0999),
    City("Dieppe", "76200", 49.9229, 1.0775),
    City("Saint-Étienne", "42000", 45.4397, 4.3872),
    City("Toulon", "83000", 43.1242, 5.9280),
    City("Grenoble", "38000", 45.1885, 5.7245),
    City("Dijon", "21000", 47.3220, 5.0415),
    City("Angers", "49000", 47.4784, -0.5632),
    City("Cholet", "49300", 47.0600, -0.8786),
    City("Nîmes", "30000", 43.8367, 4.3601),
    City("Clermont-Ferrand", "63000", 45.7772, 3.0870),
    City("Le Mans", "72000", 48.0061, 0.1996),
    City("Aix-en-Provence", "13100", 43.5297, 5.4474),
    City("Brest", "29200", 48.3904, -4.4861),
    City("Quimper", "29000", 47.9960, -4.1024),
    City("Tours", "37000", 47.3941, 0.6848),
    City("Amiens", "80000", 49.8941, 2.2958),
    City("Limoges", "87000", 45.8336, 1.2611),
    City("Annecy", "74000", 45.8992, 6.1294),
    City("Perpignan", "66000", 42.6887, 2.8948),
    City("Boulogne-Billancourt", "92100", 48.8397, 2.2399),
    City("Nanterre", "92000", 48.8924, 2.2071),
    City("Versailles", "78000", 48.8014, 2.1301),
    City("Créteil", "94000", 48.7904, 2.4556),
    City("Montreuil", "93100", 48.8638, 2.4485),
    City("Saint-Denis", "93200", 48.9362, 2.3574),
    City("Argenteuil", "95100", 48.9472, 2.2467),
    City("Melun", "77000", 48.5421, 2.6554),
    City("Meaux", "77100", 48.9601, 2.8788),
    City("Metz", "57000", 49.1193, 6.1757),
    City("Nancy", "54000", 48.6921, 6.1844),
    City("Épinal", "88000", 48.1724, 6.4496),
    City("Besançon", "25000", 47.2378, 6.0241),
    City("Belfort", "90000", 47.6380, 6.8628),
    City("Mulhouse", "68100", 47.7508, 7.3359),
    City("Colmar", "68000", 48.0794, 7.3585),
    City("Orléans", "45000", 47.9030, 1.9093),
    City("Blois", "41000", 47.5861, 1.3359),
    City("Chartres", "28000", 48.4439, 1.4890),
    City("Bourges", "18000", 47.0810, 2.3988),
    City("Caen", "14000", 49.1829, -0.3707),
    City("Cherbourg-en-Cotentin", "50100", 49.6337, -1.6222),
    City("Avignon", "84000", 43.9493, 4.8055),
    City("Poitiers", "86000", 46.5802, 0.3404),
    City("Pau", "64000", 43.2951, -0.3708),
    City("Bayonne", "64100", 43.4929, -1.4748),
    City("La Rochelle", "17000", 46.1603, -1.1511),
    City("Niort", "79000", 46.3237, -0.4588),
    City("Angoulême", "16000", 45.6484, 0.1562),
    City("Périgueux", "24000", 45.1846, 0.7214),
    City("Agen", "47000", 44.2033, 0.6163),
    City("Montauban", "82000", 44.0176, 1.3550),
    City("Albi", "81000", 43.9289, 2.1464),
    City("Rodez", "12000", 44.3506, 2.5750),
    City("Tarbes", "65000", 43.2328, 0.0781),
    City("Béziers", "34500", 43.3442, 3.2158),
    City("Narbonne", "11100", 43.1839, 3.0042),
    City("Carcassonne", "11000", 43.2130, 2.3491),
    City("Valence", "26000", 44.9334, 4.8924),
    City("Chambéry", "73000", 45.5646, 5.9178),
    City("Troyes", "10000", 48.2973, 4.0744),
    City("Calais", "62100", 50.9513, 1.8587),
    City("Arras", "62000", 50.2910, 2.7775),
    City("Beauvais", "60000", 49.4295, 2.0807),
    City("Compiègne", "60200", 49.4179, 2.8261),
    City("Laval", "53000", 48.0707, -0.7734),
    City("Vannes", "56000", 47.6582, -2.7608),
    City("Lorient", "56100", 47.7483, -3.3700),
    City("Saint-Brieuc", "22000", 48.5136, -2.7603),
    City("Saint-Nazaire", "44600", 47.2735, -2.2138),
    City("Brive-la-Gaillarde", "19100", 45.1589, 1.5331),
    City("Bourg-en-Bresse", "01000", 46.2052, 5.2255),
    City("Mâcon", "71000", 46.3069, 4.8287),
    City("Ajaccio", "20000", 41.9192, 8.7386),
)


@dataclass(frozen=True, slots=True)
class Equipment:
    """An equipment model installed under a CEE operation sheet.

    :param name: the equipment's name as the app shows it.
    :param model: the manufacturer's reference.
    :param serial_prefix: letters that start its serial numbers.
    """

    name: str
    model: str
    serial_prefix: str


@dataclass(frozen=True, slots=True)
class Service:
    """A CEE standardised operation sheet (fiche d'opération standardisée) and the equipment it installs.

    :param code: the sheet's code, e.g. ``BAR-TH-171``.
    :param name: the sheet's title.
    :param equipment: models an installer may fit under this sheet.
    :param gas: whether the home has a gas supply (a PCE) when this operation is done.
    :param max_quantity: upper bound of the service quantity (e.g. radiators, windows).
    """

    code: str
    name: str
    equipment: tuple[Equipment, ...]
    gas: bool = False
    max_quantity: int = 1


# Titles of the residential (BAR) sheets of the CEE scheme. Equipment models are plausible references of real
# product ranges, not a price list.
SERVICES: tuple[Service, ...] = (
    Service(
        "BAR-TH-171",
        "Pompe à chaleur de type air/eau",
        (
            Equipment("Pompe à chaleur Daikin Altherma 3 H HT", "ETBH16E6V", "DK"),
            Equipment("Pompe à chaleur Atlantic Alfea Excellia A.I.", "526320", "AT"),
            Equipment("Pompe à chaleur Mitsubishi Ecodan", "PUZ-WM85VAA", "ME"),
            Equipment("Pompe à chaleur Saunier Duval Genia Air Max", "HA 8-6 OS", "SD"),
        ),
    ),
    Service(
        "BAR-TH-104",
        "Pompe à chaleur de type air/eau ou eau/eau",
        (
            Equipment("Pompe à chaleur Viessmann Vitocal 200-S", "AWB-M-E-AC 201.D10", "VI"),
            Equipment("Pompe à chaleur Hitachi Yutaki S", "RWM-6.0NE", "HI"),
        ),
    ),
    Service(
        "BAR-TH-129",
        "Pompe à chaleur de type air/air",
        (
            Equipment("Climatiseur réversible Daikin Perfera", "FTXM35R", "DK"),
            Equipment("Climatiseur réversible Atlantic Takao M3", "ASYG12KMCC", "AT"),
        ),
        max_quantity=3,
    ),
    Service(
        "BAR-TH-159",
        "Pompe à chaleur hybride individuelle",
        (Equipment("Pompe à chaleur hybride Atlantic Alfea Hybrid Duo Gaz", "522290", "AT"),),
        gas=True,
    ),
    Service(
        "BAR-TH-106",
        "Chaudière individuelle à haute performance énergétique",
        (
            Equipment("Chaudière gaz à condensation Saunier Duval ThemaPlus Condens", "F 25", "SD"),
            Equipment("Chaudière gaz à condensation Vaillant ecoTEC plus", "VUW 26CS/1-5", "VA"),
            Equipment("Chaudière gaz à condensation Frisquet Hydroconfort Evolution", "A5BE25000", "FR"),
            Equipment("Chaudière gaz à condensation De Dietrich Naneo", "EMC-M 24/28 MI", "DD"),
        ),
        gas=True,
    ),
    Service(
        "BAR-TH-112",
        "Appareil indépendant de chauffage au bois",
        (
            Equipment("Poêle à granulés MCZ Club Comfort Air", "CLUB-8-M3", "MC"),
            Equipment("Poêle à bois Jøtul F 163", "F163", "JO"),
            Equipment("Poêle à granulés Edilkamin Cherie Up", "CHERIE-UP", "ED"),
        ),
    ),
    Service(
        "BAR-TH-113",
        "Chaudière biomasse individuelle",
        (
            Equipment("Chaudière à granulés ÖkoFEN Pellematic Condens", "PEK 18", "OK"),
            Equipment("Chaudière à granulés Froling PE1 Pellet", "PE1-20", "FR"),
        ),
    ),
    Service(
        "BAR-TH-148",
        "Chauffe-eau thermodynamique à accumulation",
        (
            Equipment("Chauffe-eau thermodynamique Atlantic Explorer V4", "232317", "AT"),
            Equipment("Chauffe-eau thermodynamique Thermor Aéromax 5", "286071", "TH"),
            Equipment("Chauffe-eau thermodynamique Ariston Nuos Split", "NUOS-SPLIT-200", "AR"),
        ),
    ),
    Service(
        "BAR-TH-143",
        "Système solaire combiné",
        (Equipment("Système solaire combiné Viessmann Vitosol 200-FM", "SV2F", "VI"),),
    ),
    Service(
        "BAR-TH-173",
        "Système de régulation par programmation horaire pièce par pièce",
        (
            Equipment("Thermostat connecté Netatmo", "NTH-PRO", "NE"),
            Equipment("Régulateur Delta Dore Tybox 5100", "6053076", "DE"),
        ),
    ),
    Service(
        "BAR-EN-101",
        "Isolation de combles ou de toitures",
        (Equipment("Laine de verre soufflée Isover Comblissimo", "COMBLISSIMO-R7", "IS"),),
    ),
    Service(
        "BAR-EN-102",
        "Isolation des murs",
        (Equipment("Panneau laine de roche Rockwool Rockmur", "ROCKMUR-120", "RW"),),
    ),
    Service(
        "BAR-EN-103",
        "Isolation d'un plancher",
        (Equipment("Panneau polyuréthane Knauf Thane Sol", "KTS-100", "KN"),),
    ),
    Service(
        "BAR-EN-104",
        "Fenêtre ou porte-fenêtre complète avec vitrage isolant",
        (Equipment("Fenêtre PVC double vitrage Tryba", "TRY-PVC-2V", "TR"),),
        max_quantity=8,
    ),
)

# Domains of the customers' mail addresses.
CUSTOMER_EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com",
    "orange.fr",
    "free.fr",
    "sfr.fr",
    "laposte.net",
    "hotmail.fr",
    "wanadoo.fr",
    "yahoo.fr",
    "outlook.fr",
    "bbox.fr",
)

# Suffixes that turn a Faker family name into an installer company's name.
COMPANY_TRADES: tuple[str, ...] = (
    "Énergies",
    "Thermique",
    "Chauffage",
    "Rénovation",
    "Habitat",
    "Confort",
    "Clim",
    "Isolation",
    "Services",
)

# Second digit after '6' and '7' for which a French mobile number is valid (numbering plan of the ARCEP as
# encoded by libphonenumber: 6[0-24-8]x, 63[0-8], 69[589], 7[3-9]x); a third digit is then free.
MOBILE_6_SECOND_DIGITS: str = "0124578"
MOBILE_7_SECOND_DIGITS: str = "3456789"

# Phone numbers that no normaliser can turn into a valid French number (unparseable or too short / too long).
UNPARSEABLE_PHONES: tuple[str, ...] = (
    "06 12 34",
    "0612",
    "N/A",
    "pas de téléphone",
    "00000",
    "06 12 34 56 78 90 12",
    "+33 6",
    "voir mari",
    "1234",
    "??",
)

# Street types of the addresses without a house number (lieux-dits, hamlets): the PDL lookup by address gives
# only a low confidence for them.
ADDRESSES_WITHOUT_NUMBER: tuple[str, ...] = (
    "Lieu-dit Les Granges",
    "Hameau de la Fontaine",
    "Le Bourg",
    "Lieu-dit La Croix Blanche",
    "Route de la Forêt",
    "Chemin des Vignes",
    "Hameau des Chênes",
    "Lieu-dit Le Moulin",
)
