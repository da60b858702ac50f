package generate

// The reference tables of the synthetic region. Names, places and codes are
// plausible for Midi-Pyrénées but the establishments, FINESS and RPPS numbers
// are invented: nothing here identifies a real structure or person.

// commune is a place with its INSEE code (birth place, address).
type commune struct{ name, insee, postal string }

var communes = []commune{
	{"Toulouse", "31555", "31000"}, {"Toulouse", "31555", "31400"}, {"Toulouse", "31555", "31300"},
	{"Colomiers", "31149", "31770"}, {"Tournefeuille", "31557", "31170"}, {"Muret", "31395", "31600"},
	{"Blagnac", "31069", "31700"}, {"Balma", "31044", "31130"}, {"Saint-Gaudens", "31483", "31800"},
	{"Albi", "81004", "81000"}, {"Castres", "81065", "81100"}, {"Gaillac", "81099", "81600"},
	{"Lavaur", "81140", "81500"}, {"Mazamet", "81163", "81200"}, {"Montauban", "82121", "82000"},
	{"Castelsarrasin", "82033", "82100"}, {"Moissac", "82112", "82200"}, {"Cahors", "46042", "46000"},
	{"Figeac", "46102", "46100"}, {"Gourdon", "46127", "46300"}, {"Rodez", "12202", "12000"},
	{"Millau", "12145", "12100"}, {"Villefranche-de-Rouergue", "12300", "12200"}, {"Decazeville", "12089", "12300"},
	{"Tarbes", "65440", "65000"}, {"Lourdes", "65286", "65100"}, {"Bagnères-de-Bigorre", "65059", "65200"},
	{"Lannemezan", "65258", "65300"}, {"Auch", "32013", "32000"}, {"Condom", "32107", "32100"},
	{"L'Isle-Jourdain", "32160", "32600"}, {"Foix", "09122", "09000"}, {"Pamiers", "09225", "09100"},
	{"Saint-Girons", "09261", "09200"}, {"Lézat-sur-Lèze", "09162", "09210"}, {"Saint-Affrique", "12208", "12400"},
}

// birthplaces outside the region, for the few patients born elsewhere.
var farCommunes = []commune{
	{"Paris", "75056", "75000"}, {"Marseille", "13055", "13000"}, {"Lyon", "69123", "69000"},
	{"Bordeaux", "33063", "33000"}, {"Montpellier", "34172", "34000"}, {"Perpignan", "66136", "66000"},
	{"Pau", "64445", "64000"}, {"Agen", "47001", "47000"}, {"Carcassonne", "11069", "11000"}, {"Nîmes", "30189", "30000"},
}

var streets = []string{
	"rue de la République", "avenue Jean Jaurès", "chemin des Vignes", "allée des Platanes", "rue Pasteur",
	"boulevard Lazare Carnot", "impasse des Lilas", "route de Narbonne", "rue Victor Hugo", "place de l'Église",
	"rue des Écoles", "avenue de Lombez", "rue du Moulin", "chemin de la Côte", "rue Gambetta", "rue de la Fontaine",
	"avenue des Pyrénées", "rue Émile Zola", "rue du Général de Gaulle", "chemin du Bois",
}

var familyNames = []string{
	"Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent",
	"Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier", "Girard",
	"Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Faure", "André", "Mercier", "Blanc",
	"Guérin", "Boyer", "Garnier", "Chevalier", "François", "Legrand", "Gauthier", "Garcia", "Perrin", "Robin",
	"Clément", "Morin", "Nicolas", "Henry", "Mathieu", "Masson", "Marchand", "Duval", "Denis", "Dumont",
	"Noël", "Meunier", "Brun", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard", "Arnaud",
	"Martinez", "Gérard", "Roche", "Vidal", "Fabre", "Aubert", "Renaud", "Dumas", "Lacroix", "Olivier",
	"Benoît", "Rey", "Carré", "Bessière", "Castéra", "Cazals", "Delmas", "Labadie", "Laffont", "Sabatier",
	"Sicard", "Pujol", "Puech", "Bousquet", "Cassagne", "Escudié", "Séguy", "Vergé", "Lafon", "Estève",
	"Rouquette", "Gaubert", "Lapeyre", "Bénazet", "Lopez", "Fernandez", "Sanchez", "Ferrer", "Marty", "Teulière",
}

var femaleNames = []string{
	"Hélène", "Marie", "Élodie", "Léa", "Chloé", "Camille", "Amélie", "Céline", "Sophie", "Nathalie",
	"Isabelle", "Sylvie", "Françoise", "Monique", "Jacqueline", "Geneviève", "Danièle", "Josette", "Brigitte", "Véronique",
	"Agnès", "Martine", "Christiane", "Renée", "Thérèse", "Émilie", "Aurélie", "Mélanie", "Noémie", "Anaïs",
	"Joëlle", "Maïté", "Bénédicte", "Claire", "Anne", "Odile", "Colette", "Simone", "Paulette", "Laure",
}

var maleNames = []string{
	"Jean", "Pierre", "Michel", "André", "Philippe", "Jacques", "Bernard", "Alain", "Gérard", "René",
	"Daniel", "François", "Hervé", "Frédéric", "Stéphane", "Jérôme", "Sébastien", "Cédric", "Loïc", "Joël",
	"Rémi", "Noël", "Benoît", "Hugo", "Théo", "Léon", "Raphaël", "Étienne", "Éric", "Gaël",
	"Aimé", "Maël", "Claude", "Louis", "Paul", "Marcel", "Guy", "Serge", "Yves", "Luc",
}

// estKind drives how big an establishment is and which boards it runs.
type estKind int

const (
	kindCHU estKind = iota
	kindCLCC
	kindClinic
	kindCH
)

type establishment struct {
	name, short string
	city        commune
	kind        estKind
	weight      float64 // share of the region's patients
}

func c(name string) commune {
	for _, x := range communes {
		if x.name == name {
			return x
		}
	}
	panic("unknown commune " + name)
}

// establishments are the 33 establishments of the network.
var establishments = []establishment{
	{"CHU de Toulouse — Institut universitaire du cancer (Oncopole)", "chu-oncopole", c("Toulouse"), kindCHU, 14},
	{"Institut Claudius Regaud", "icr", c("Toulouse"), kindCLCC, 12},
	{"CHU de Toulouse — Hôpital Rangueil", "chu-rangueil", c("Toulouse"), kindCHU, 6},
	{"CHU de Toulouse — Hôpital Purpan", "chu-purpan", c("Toulouse"), kindCHU, 5},
	{"Clinique Pasteur", "clinique-pasteur", c("Toulouse"), kindClinic, 6},
	{"Clinique des Cèdres", "clinique-cedres", c("Blagnac"), kindClinic, 4},
	{"Clinique de l'Union", "clinique-union", c("Balma"), kindClinic, 4},
	{"Clinique Ambroise Paré", "clinique-ambroise-pare", c("Toulouse"), kindClinic, 3},
	{"Hôpital Joseph Ducuing", "hopital-ducuing", c("Toulouse"), kindClinic, 2},
	{"Clinique Saint-Jean du Languedoc", "clinique-saint-jean", c("Toulouse"), kindClinic, 3},
	{"Clinique Médipôle Garonne", "medipole-garonne", c("Toulouse"), kindClinic, 3},
	{"Clinique d'Occitanie", "clinique-occitanie", c("Muret"), kindClinic, 2},
	{"Centre hospitalier d'Albi", "ch-albi", c("Albi"), kindCH, 3},
	{"Clinique Claude Bernard", "clinique-claude-bernard", c("Albi"), kindClinic, 2},
	{"Centre hospitalier intercommunal de Castres-Mazamet", "chic-castres-mazamet", c("Castres"), kindCH, 2.5},
	{"Centre hospitalier de Montauban", "ch-montauban", c("Montauban"), kindCH, 2.5},
	{"Clinique du Pont de Chaume", "clinique-pont-de-chaume", c("Montauban"), kindClinic, 2},
	{"Centre hospitalier de Cahors", "ch-cahors", c("Cahors"), kindCH, 1.5},
	{"Centre hospitalier de Figeac", "ch-figeac", c("Figeac"), kindCH, 0.8},
	{"Centre hospitalier de Rodez — Jacques Puel", "ch-rodez", c("Rodez"), kindCH, 2.5},
	{"Centre hospitalier de Millau", "ch-millau", c("Millau"), kindCH, 0.8},
	{"Centre hospitalier de Villefranche-de-Rouergue", "ch-villefranche", c("Villefranche-de-Rouergue"), kindCH, 0.6},
	{"Centre hospitalier de Decazeville", "ch-decazeville", c("Decazeville"), kindCH, 0.4},
	{"Centre hospitalier de Bigorre", "ch-bigorre", c("Tarbes"), kindCH, 2.5},
	{"Polyclinique de l'Ormeau", "polyclinique-ormeau", c("Tarbes"), kindClinic, 1.5},
	{"Centre hospitalier de Lourdes", "ch-lourdes", c("Lourdes"), kindCH, 0.6},
	{"Centre hospitalier de Lannemezan", "ch-lannemezan", c("Lannemezan"), kindCH, 0.5},
	{"Centre hospitalier d'Auch", "ch-auch", c("Auch"), kindCH, 1.5},
	{"Centre hospitalier du Val d'Ariège", "chiva", c("Foix"), kindCH, 1.2},
	{"Centre hospitalier Ariège Couserans", "ch-ariege-couserans", c("Saint-Girons"), kindCH, 0.5},
	{"Centre hospitalier Comminges Pyrénées", "ch-comminges", c("Saint-Gaudens"), kindCH, 1},
	{"Centre hospitalier de Castelsarrasin-Moissac", "ch-castelsarrasin-moissac", c("Castelsarrasin"), kindCH, 0.6},
	{"Centre hospitalier de Lavaur", "ch-lavaur", c("Lavaur"), kindCH, 0.5},
}

// labs are the pathology (ACP) laboratories; platforms the molecular-biology
// platforms. Each establishment sends its material to the nearest lab.
var labs = []establishment{
	{"Laboratoire d'anatomie et cytologie pathologiques — CHU de Toulouse", "acp-chu-toulouse", c("Toulouse"), kindCHU, 0},
	{"Département d'anatomie pathologique — Institut Claudius Regaud", "acp-icr", c("Toulouse"), kindCLCC, 0},
	{"Cabinet d'anatomie et cytologie pathologiques Garonne", "acp-garonne", c("Toulouse"), kindClinic, 0},
	{"Laboratoire d'anatomie pathologique du Tarn", "acp-tarn", c("Albi"), kindClinic, 0},
	{"Laboratoire d'anatomie pathologique de Montauban", "acp-montauban", c("Montauban"), kindClinic, 0},
	{"Laboratoire d'anatomie pathologique des Pyrénées", "acp-pyrenees", c("Tarbes"), kindClinic, 0},
	{"Laboratoire d'anatomie pathologique de l'Aveyron", "acp-aveyron", c("Rodez"), kindClinic, 0},
	{"Laboratoire d'anatomie pathologique de Gascogne", "acp-gascogne", c("Auch"), kindClinic, 0},
}

var platforms = []establishment{
	{"Plateforme de génétique moléculaire des cancers — CHU de Toulouse", "pgm-chu-toulouse", c("Toulouse"), kindCHU, 0.6},
	{"Laboratoire d'oncogénétique somatique — Institut Claudius Regaud", "pgm-icr", c("Toulouse"), kindCLCC, 0.3},
	{"Plateforme de biologie moléculaire des tumeurs — CH de Bigorre", "pgm-bigorre", c("Tarbes"), kindCH, 0.1},
}

// specialty codes of dcc-cs-tumour-board-specialty with their display.
var specialtyDisplay = map[string]string{
	"medical-oncology":    "Oncologie médicale",
	"radiation-oncology":  "Oncologie radiothérapie",
	"surgery":             "Chirurgie (spécialité d'organe)",
	"pathology":           "Anatomie et cytologie pathologiques",
	"radiology":           "Radiologie / imagerie",
	"nuclear-medicine":    "Médecine nucléaire",
	"organ-specialist":    "Spécialiste d'organe (pneumologie, gastro-entérologie, dermatologie…)",
	"haematology":         "Hématologie",
	"molecular-biology":   "Biologie moléculaire / génétique somatique",
	"geriatric-oncology":  "Oncogériatrie",
	"palliative-care":     "Soins palliatifs / soins de support",
	"paediatric-oncology": "Oncopédiatrie",
	"general-practice":    "Médecine générale",
}

// staffing is how many practitioners of each specialty a kind of
// establishment has, in a fixed order (map order would break determinism).
type staff struct {
	spec string
	n    int
}

var staffing = map[estKind][]staff{
	kindCHU: {{"medical-oncology", 8}, {"radiation-oncology", 3}, {"surgery", 8}, {"pathology", 2}, {"radiology", 4},
		{"nuclear-medicine", 2}, {"organ-specialist", 8}, {"haematology", 4}, {"geriatric-oncology", 1}, {"palliative-care", 2}, {"paediatric-oncology", 1}},
	kindCLCC: {{"medical-oncology", 10}, {"radiation-oncology", 6}, {"surgery", 6}, {"pathology", 2}, {"radiology", 4},
		{"nuclear-medicine", 2}, {"organ-specialist", 3}, {"haematology", 5}, {"geriatric-oncology", 1}, {"palliative-care", 2}},
	kindClinic: {{"medical-oncology", 3}, {"radiation-oncology", 2}, {"surgery", 5}, {"radiology", 2}, {"organ-specialist", 4}, {"palliative-care", 1}},
	kindCH:     {{"medical-oncology", 2}, {"surgery", 3}, {"radiology", 1}, {"organ-specialist", 3}, {"geriatric-oncology", 1}, {"palliative-care", 1}},
}

// boardSites are the tumour boards (RCP) each kind of establishment runs; the
// first establishment (the regional reference centre) runs every site so a
// patient always has a board.
var boardSites = map[estKind][]string{
	kindCHU:    {"lung", "colorectal", "upper-gi", "hepatobiliary-pancreas", "urological"},
	kindCLCC:   {"breast", "gynaecological", "haematological", "head-neck", "lung", "sarcoma", "skin-melanoma"},
	kindClinic: {"colorectal", "breast", "urological", "lung"},
	kindCH:     {"colorectal", "breast", "lung"},
}

var referenceCentreSites = []string{"lung", "colorectal", "upper-gi", "hepatobiliary-pancreas", "breast", "gynaecological",
	"urological", "skin-melanoma", "head-neck", "neuro", "thyroid-endocrine", "haematological", "sarcoma", "paediatric", "molecular", "other"}

var siteDisplay = map[string]string{
	"lung": "Thorax — poumon, plèvre, médiastin", "colorectal": "Digestif — côlon, rectum, anus", "upper-gi": "Digestif — œsophage, estomac",
	"hepatobiliary-pancreas": "Digestif — foie, voies biliaires, pancréas", "breast": "Sein", "gynaecological": "Gynécologie — ovaire, utérus, col",
	"urological": "Urologie — prostate, rein, vessie, testicule", "skin-melanoma": "Dermatologie — mélanome et cancers cutanés",
	"head-neck": "ORL / cervico-facial", "neuro": "Neuro-oncologie", "thyroid-endocrine": "Thyroïde et tumeurs endocrines",
	"haematological": "Hématologie", "sarcoma": "Sarcomes", "paediatric": "Oncopédiatrie", "molecular": "RCP moléculaire", "other": "Autre localisation",
}

// organSpecialist names the organ specialty shown in meeting participants.
var organSpecialist = map[string]string{
	"lung": "Pneumologie", "colorectal": "Gastro-entérologie", "upper-gi": "Gastro-entérologie", "hepatobiliary-pancreas": "Hépato-gastro-entérologie",
	"breast": "Gynécologie-obstétrique", "gynaecological": "Gynécologie-obstétrique", "urological": "Urologie", "skin-melanoma": "Dermatologie",
	"head-neck": "Oto-rhino-laryngologie", "neuro": "Neurologie", "thyroid-endocrine": "Endocrinologie", "haematological": "Hématologie",
	"sarcoma": "Chirurgie orthopédique", "paediatric": "Pédiatrie", "molecular": "Génétique", "other": "Médecine interne",
}

// subtype is one primary cancer: ICD-10, ICD-O-3 topography and morphology.
type subtype struct {
	icd10, icd10Display string
	topo, topoDisplay   string
	morph, morphDisplay string
	weight              float64
	lateral             bool
	// test is the molecular analysis a board asks for this subtype ("" none),
	// testRate the share of patients (at eligible stages) who get one.
	test     string
	testRate float64
}

// cancerSite is a tumour site with its share of new cases and its profile.
type cancerSite struct {
	code       string // dcc-cs-tumour-site
	weight     float64
	female     float64 // probability the patient is a woman
	ageMean    float64
	ageSD      float64
	tnm        bool       // TNM staging applies
	stages     [4]float64 // weights of stage I..IV
	minTestStg int        // lowest stage (1..4) at which molecular tests are asked
	subtypes   []subtype
	mets       []metastasis
}

type metastasis struct{ icd10, display, topo, topoDisplay string }

var (
	metBrain = metastasis{"C79.3", "Tumeur maligne secondaire du cerveau et des méninges cérébrales", "C71.9", "Encéphale SAI"}
	metBone  = metastasis{"C79.5", "Tumeur maligne secondaire des os et de la moelle osseuse", "C41.9", "Os SAI"}
	metLiver = metastasis{"C78.7", "Tumeur maligne secondaire du foie et des voies biliaires intrahépatiques", "C22.0", "Foie"}
	metLung  = metastasis{"C78.0", "Tumeur maligne secondaire du poumon", "C34.9", "Poumon SAI"}
	metAdren = metastasis{"C79.7", "Tumeur maligne secondaire de la glande surrénale", "C74.9", "Glande surrénale SAI"}
	metPerit = metastasis{"C78.6", "Tumeur maligne secondaire du rétropéritoine et du péritoine", "C48.2", "Péritoine SAI"}
)

// sites: shares close to French incidence in a regional network's activity.
var sites = []cancerSite{
	{"breast", 18, 0.99, 62, 13, true, [4]float64{40, 36, 16, 8}, 4, []subtype{
		{"C50.4", "Tumeur maligne du quadrant supéro-externe du sein", "C50.4", "Quadrant supéro-externe du sein", "8500/3", "Carcinome canalaire infiltrant SAI", 45, true, "PIK3CA", 0.6},
		{"C50.9", "Tumeur maligne du sein, sans précision", "C50.9", "Sein SAI", "8500/3", "Carcinome canalaire infiltrant SAI", 35, true, "PIK3CA", 0.6},
		{"C50.2", "Tumeur maligne du quadrant supéro-interne du sein", "C50.2", "Quadrant supéro-interne du sein", "8520/3", "Carcinome lobulaire SAI", 20, true, "PIK3CA", 0.6}},
		[]metastasis{metBone, metLiver, metLung, metBrain}},
	{"urological", 21, 0.18, 70, 9, true, [4]float64{30, 38, 16, 16}, 4, []subtype{
		{"C61", "Tumeur maligne de la prostate", "C61.9", "Prostate", "8140/3", "Adénocarcinome SAI", 68, false, "BRCA", 0.5},
		{"C67.9", "Tumeur maligne de la vessie, sans précision", "C67.9", "Vessie SAI", "8120/3", "Carcinome urothélial SAI", 18, false, "", 0},
		{"C64", "Tumeur maligne du rein, à l'exception du bassinet", "C64.9", "Rein SAI", "8312/3", "Carcinome à cellules rénales SAI", 14, true, "", 0}},
		[]metastasis{metBone, metLung, metLiver}},
	{"lung", 12, 0.35, 67, 10, true, [4]float64{20, 10, 22, 48}, 1, []subtype{
		{"C34.1", "Tumeur maligne du lobe supérieur, bronches ou poumon", "C34.1", "Lobe supérieur du poumon", "8140/3", "Adénocarcinome SAI", 30, true, "NGS-LUNG", 0.95},
		{"C34.3", "Tumeur maligne du lobe inférieur, bronches ou poumon", "C34.3", "Lobe inférieur du poumon", "8140/3", "Adénocarcinome SAI", 25, true, "NGS-LUNG", 0.95},
		{"C34.1", "Tumeur maligne du lobe supérieur, bronches ou poumon", "C34.1", "Lobe supérieur du poumon", "8070/3", "Carcinome épidermoïde SAI", 25, true, "", 0},
		{"C34.9", "Tumeur maligne des bronches ou du poumon, sans précision", "C34.9", "Poumon SAI", "8041/3", "Carcinome à petites cellules SAI", 13, true, "", 0},
		{"C34.9", "Tumeur maligne des bronches ou du poumon, sans précision", "C34.9", "Poumon SAI", "8012/3", "Carcinome à grandes cellules SAI", 7, true, "NGS-LUNG", 0.5}},
		[]metastasis{metBrain, metBone, metLiver, metAdren}},
	{"colorectal", 11, 0.45, 70, 11, true, [4]float64{20, 25, 30, 25}, 3, []subtype{
		{"C18.7", "Tumeur maligne du côlon sigmoïde", "C18.7", "Côlon sigmoïde", "8140/3", "Adénocarcinome SAI", 30, false, "NGS-COLON", 0.85},
		{"C18.0", "Tumeur maligne du cæcum", "C18.0", "Cæcum", "8140/3", "Adénocarcinome SAI", 15, false, "NGS-COLON", 0.85},
		{"C18.2", "Tumeur maligne du côlon ascendant", "C18.2", "Côlon ascendant", "8480/3", "Adénocarcinome mucineux", 10, false, "NGS-COLON", 0.85},
		{"C20", "Tumeur maligne du rectum", "C20.9", "Rectum SAI", "8140/3", "Adénocarcinome SAI", 30, false, "NGS-COLON", 0.85},
		{"C18.9", "Tumeur maligne du côlon, sans précision", "C18.9", "Côlon SAI", "8140/3", "Adénocarcinome SAI", 15, false, "NGS-COLON", 0.85}},
		[]metastasis{metLiver, metLung, metPerit}},
	{"haematological", 10, 0.45, 65, 15, false, [4]float64{}, 1, []subtype{
		{"C83.3", "Lymphome diffus à grandes cellules B", "C77.9", "Ganglion lymphatique SAI", "9680/3", "Lymphome malin diffus à grandes cellules B", 25, false, "", 0},
		{"C90.0", "Myélome multiple", "C42.1", "Moelle osseuse", "9732/3", "Myélome multiple", 20, false, "", 0},
		{"C91.1", "Leucémie lymphoïde chronique à cellules B", "C42.1", "Moelle osseuse", "9823/3", "Leucémie lymphoïde chronique à cellules B", 20, false, "", 0},
		{"C92.0", "Leucémie myéloïde aiguë", "C42.1", "Moelle osseuse", "9861/3", "Leucémie myéloïde aiguë SAI", 12, false, "IDH", 0.9},
		{"C81.9", "Lymphome de Hodgkin, sans précision", "C77.9", "Ganglion lymphatique SAI", "9650/3", "Lymphome de Hodgkin SAI", 8, false, "", 0},
		{"C82.9", "Lymphome folliculaire, sans précision", "C77.9", "Ganglion lymphatique SAI", "9690/3", "Lymphome folliculaire SAI", 15, false, "", 0}}, nil},
	{"skin-melanoma", 5, 0.5, 60, 15, true, [4]float64{45, 25, 20, 10}, 3, []subtype{
		{"C43.5", "Mélanome malin du tronc", "C44.5", "Peau du tronc", "8743/3", "Mélanome à extension superficielle", 40, false, "NGS-MELANOMA", 0.9},
		{"C43.7", "Mélanome malin du membre inférieur, y compris la hanche", "C44.7", "Peau du membre inférieur et de la hanche", "8721/3", "Mélanome nodulaire", 25, true, "NGS-MELANOMA", 0.9},
		{"C43.6", "Mélanome malin du membre supérieur, y compris l'épaule", "C44.6", "Peau du membre supérieur et de l'épaule", "8720/3", "Mélanome malin SAI", 15, true, "NGS-MELANOMA", 0.9},
		{"C43.3", "Mélanome malin de parties autres et non précisées de la face", "C44.3", "Peau de la face", "8720/3", "Mélanome malin SAI", 20, false, "NGS-MELANOMA", 0.9}},
		[]metastasis{metLung, metBrain, metLiver}},
	{"head-neck", 5, 0.25, 63, 10, true, [4]float64{15, 15, 20, 50}, 5, []subtype{
		{"C32.0", "Tumeur maligne de la glotte", "C32.0", "Glotte", "8070/3", "Carcinome épidermoïde SAI", 35, false, "", 0},
		{"C01", "Tumeur maligne de la base de la langue", "C01.9", "Base de la langue", "8070/3", "Carcinome épidermoïde SAI", 25, false, "", 0},
		{"C10.9", "Tumeur maligne de l'oropharynx, sans précision", "C10.9", "Oropharynx SAI", "8070/3", "Carcinome épidermoïde SAI", 25, false, "", 0},
		{"C13.9", "Tumeur maligne de l'hypopharynx, sans précision", "C13.9", "Hypopharynx SAI", "8070/3", "Carcinome épidermoïde SAI", 15, false, "", 0}},
		[]metastasis{metLung, metBone}},
	{"upper-gi", 4, 0.3, 68, 11, true, [4]float64{15, 20, 30, 35}, 5, []subtype{
		{"C16.9", "Tumeur maligne de l'estomac, sans précision", "C16.9", "Estomac SAI", "8140/3", "Adénocarcinome SAI", 60, false, "", 0},
		{"C15.5", "Tumeur maligne du tiers inférieur de l'œsophage", "C15.5", "Tiers inférieur de l'œsophage", "8070/3", "Carcinome épidermoïde SAI", 40, false, "", 0}},
		[]metastasis{metLiver, metPerit, metLung}},
	{"hepatobiliary-pancreas", 5, 0.45, 70, 10, true, [4]float64{10, 20, 25, 45}, 5, []subtype{
		{"C25.0", "Tumeur maligne de la tête du pancréas", "C25.0", "Tête du pancréas", "8500/3", "Carcinome canalaire infiltrant SAI", 60, false, "", 0},
		{"C22.0", "Carcinome hépatocellulaire", "C22.0", "Foie", "8170/3", "Carcinome hépatocellulaire SAI", 40, false, "", 0}},
		[]metastasis{metLiver, metPerit, metLung}},
	{"gynaecological", 4, 1, 63, 12, true, [4]float64{35, 15, 30, 20}, 3, []subtype{
		{"C56", "Tumeur maligne de l'ovaire", "C56.9", "Ovaire", "8441/3", "Cystadénocarcinome séreux SAI", 35, true, "BRCA", 0.9},
		{"C54.1", "Tumeur maligne de l'endomètre", "C54.1", "Endomètre", "8380/3", "Adénocarcinome endométrioïde SAI", 45, false, "", 0},
		{"C53.9", "Tumeur maligne du col de l'utérus, sans précision", "C53.9", "Col utérin", "8070/3", "Carcinome épidermoïde SAI", 20, false, "", 0}},
		[]metastasis{metPerit, metLiver, metLung}},
	{"thyroid-endocrine", 3, 0.75, 50, 15, true, [4]float64{70, 15, 10, 5}, 3, []subtype{
		{"C73", "Tumeur maligne de la thyroïde", "C73.9", "Glande thyroïde", "8260/3", "Adénocarcinome papillaire SAI", 100, false, "BRAF", 0.6}},
		[]metastasis{metLung, metBone}},
	{"neuro", 1.5, 0.4, 58, 14, false, [4]float64{}, 1, []subtype{
		{"C71.9", "Tumeur maligne de l'encéphale, sans précision", "C71.9", "Encéphale SAI", "9440/3", "Glioblastome SAI", 70, false, "IDH", 0.9},
		{"C71.1", "Tumeur maligne du lobe frontal", "C71.1", "Lobe frontal", "9400/3", "Astrocytome SAI", 30, false, "IDH", 0.9}}, nil},
	{"sarcoma", 1, 0.5, 55, 18, true, [4]float64{25, 30, 30, 15}, 5, []subtype{
		{"C49.2", "Tumeur maligne du tissu conjonctif et des tissus mous du membre inférieur", "C49.2", "Tissus mous du membre inférieur", "8800/3", "Sarcome SAI", 100, true, "", 0}},
		[]metastasis{metLung}},
}

// variant is a recurrent somatic alteration with its HGVS expressions.
type variant struct {
	gene, hgnc         string
	genomic, coding, p string
}

var variants = map[string][]variant{
	"EGFR": {
		{"EGFR", "HGNC:3236", "NC_000007.13:g.55259515T>G", "NM_005228.5:c.2573T>G", "NP_005219.2:p.Leu858Arg"},
		{"EGFR", "HGNC:3236", "NC_000007.13:g.55242465_55242479del", "NM_005228.5:c.2235_2249del", "NP_005219.2:p.Glu746_Ala750del"},
		{"EGFR", "HGNC:3236", "NC_000007.13:g.55241707G>A", "NM_005228.5:c.2155G>A", "NP_005219.2:p.Gly719Ser"}},
	"KRAS": {
		{"KRAS", "HGNC:6407", "NC_000012.11:g.25398285C>A", "NM_004985.5:c.34G>T", "NP_004976.2:p.Gly12Cys"},
		{"KRAS", "HGNC:6407", "NC_000012.11:g.25398284C>T", "NM_004985.5:c.35G>A", "NP_004976.2:p.Gly12Asp"},
		{"KRAS", "HGNC:6407", "NC_000012.11:g.25398284C>A", "NM_004985.5:c.35G>T", "NP_004976.2:p.Gly12Val"},
		{"KRAS", "HGNC:6407", "NC_000012.11:g.25398281C>T", "NM_004985.5:c.38G>A", "NP_004976.2:p.Gly13Asp"}},
	"BRAF": {
		{"BRAF", "HGNC:1097", "NC_000007.13:g.140453136A>T", "NM_004333.6:c.1799T>A", "NP_004324.2:p.Val600Glu"},
		{"BRAF", "HGNC:1097", "NC_000007.13:g.140453136_140453137delinsTT", "NM_004333.6:c.1798_1799delinsAA", "NP_004324.2:p.Val600Lys"}},
	"NRAS": {
		{"NRAS", "HGNC:7989", "NC_000001.10:g.115256529T>C", "NM_002524.5:c.182A>G", "NP_002515.1:p.Gln61Arg"},
		{"NRAS", "HGNC:7989", "NC_000001.10:g.115256530G>T", "NM_002524.5:c.181C>A", "NP_002515.1:p.Gln61Lys"}},
	"PIK3CA": {
		{"PIK3CA", "HGNC:8975", "NC_000003.11:g.178952085A>G", "NM_006218.4:c.3140A>G", "NP_006209.2:p.His1047Arg"},
		{"PIK3CA", "HGNC:8975", "NC_000003.11:g.178936091G>A", "NM_006218.4:c.1633G>A", "NP_006209.2:p.Glu545Lys"}},
	"MET":   {{"MET", "HGNC:7029", "NC_000007.13:g.116412044G>T", "NM_000245.4:c.3082+1G>T", "NP_000236.2:p.?"}},
	"ERBB2": {{"ERBB2", "HGNC:3430", "NC_000017.10:g.37880979_37880990dup", "NM_004448.4:c.2313_2324dup", "NP_004439.2:p.Tyr772_Ala775dup"}},
	"KIT":   {{"KIT", "HGNC:6342", "NC_000004.11:g.55593661T>C", "NM_000222.3:c.1727T>C", "NP_000213.1:p.Leu576Pro"}},
	"IDH1":  {{"IDH1", "HGNC:5382", "NC_000002.11:g.209113112C>T", "NM_005896.4:c.395G>A", "NP_005887.2:p.Arg132His"}},
	"BRCA1": {{"BRCA1", "HGNC:1100", "NC_000017.10:g.41209079dup", "NM_007294.4:c.5266dup", "NP_009225.1:p.Gln1756ProfsTer74"}},
	"BRCA2": {{"BRCA2", "HGNC:1101", "NC_000013.10:g.32914438del", "NM_000059.4:c.5946del", "NP_000050.3:p.Ser1982ArgfsTer22"}},
	"TP53":  {{"TP53", "HGNC:11998", "NC_000017.10:g.7577120C>T", "NM_000546.6:c.818G>A", "NP_000537.3:p.Arg273His"}},
}

var geneHGNC = map[string]string{
	"EGFR": "HGNC:3236", "KRAS": "HGNC:6407", "BRAF": "HGNC:1097", "NRAS": "HGNC:7989", "PIK3CA": "HGNC:8975", "MET": "HGNC:7029",
	"ERBB2": "HGNC:3430", "KIT": "HGNC:6342", "IDH1": "HGNC:5382", "IDH2": "HGNC:5383", "BRCA1": "HGNC:1100", "BRCA2": "HGNC:1101",
	"TP53": "HGNC:11998", "ALK": "HGNC:427", "ROS1": "HGNC:10261", "RET": "HGNC:9967",
}

// driver is one exclusive alteration of a panel with its frequency among
// the tested patients; independent ones may come on top.
type driver struct {
	gene string
	freq float64
}

type panel struct {
	display   string
	studied   []string // genes reported (absent when no variant)
	exclusive []driver // at most one of these (oncogenic drivers rarely co-occur)
	extra     []driver // independent of the above
}

var panels = map[string]panel{
	"NGS-LUNG": {"Panel NGS poumon (EGFR, KRAS, BRAF, MET, ERBB2, ALK, ROS1, RET…)", []string{"EGFR", "KRAS", "BRAF", "MET", "ERBB2"},
		[]driver{{"EGFR", 0.15}, {"KRAS", 0.30}, {"BRAF", 0.03}, {"MET", 0.03}, {"ERBB2", 0.02}}, []driver{{"TP53", 0.45}}},
	"NGS-COLON": {"Panel NGS côlon (KRAS, NRAS, BRAF, PIK3CA…)", []string{"KRAS", "NRAS", "BRAF", "PIK3CA"},
		[]driver{{"KRAS", 0.40}, {"NRAS", 0.04}, {"BRAF", 0.10}}, []driver{{"PIK3CA", 0.15}, {"TP53", 0.55}}},
	"NGS-MELANOMA": {"Panel NGS mélanome (BRAF, NRAS, KIT…)", []string{"BRAF", "NRAS", "KIT"},
		[]driver{{"BRAF", 0.45}, {"NRAS", 0.20}, {"KIT", 0.02}}, nil},
	"PIK3CA": {"Mutations PIK3CA", []string{"PIK3CA"}, []driver{{"PIK3CA", 0.35}}, nil},
	"BRCA":   {"Mutations somatiques BRCA1/BRCA2", []string{"BRCA1", "BRCA2"}, []driver{{"BRCA1", 0.12}, {"BRCA2", 0.10}}, nil},
	"IDH":    {"Mutations IDH1/IDH2", []string{"IDH1"}, []driver{{"IDH1", 0.25}}, nil},
	"BRAF":   {"Mutations BRAF (V600)", []string{"BRAF"}, []driver{{"BRAF", 0.45}}, nil},
}
