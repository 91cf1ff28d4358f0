// Package tenure generates sample items shaped like the Tenure API's
// TenureInformation table (shared/docs/tenure-data.md): hash key "id" (S),
// nested household members, an asset, charges as numbers, dates in the
// API's two encodings, NULLs and legacy references. Generation is
// deterministic for a seed, so tests, the demo and benchmarks can recreate
// the same data.
package tenure

import (
	"fmt"
	"math/rand/v2"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// TableName is the DynamoDB table the samples belong to.
const TableName = "TenureInformation"

// Key is the table's key schema.
var Key = ddbjson.KeySchema{Hash: ddbjson.KeyAttribute{Name: "id", Type: ddbjson.TypeS}}

// tenureTypes are the codes of tenure-shared's TenureTypes.cs, weighted
// towards the common ones by repetition.
var tenureTypes = [][2]string{
	{"SEC", "Secure"}, {"SEC", "Secure"}, {"SEC", "Secure"}, {"SEC", "Secure"},
	{"INT", "Introductory"}, {"LEA", "Leasehold (RTB)"}, {"LEA", "Leasehold (RTB)"},
	{"NON", "Non-Secure"}, {"MPA", "Mesne Profit Ac"}, {"TBB", "Temp B&B"},
	{"FRE", "Freehold"}, {"SHO", "Shared Owners"}, {"TGA", "Tenant Garage"},
	{"THO", "Temp Hostel"}, {"ASY", "Asylum Seeker"}, {"DEC", "Temp Decant"},
}

var (
	titles    = []string{"Mr", "Mrs", "Ms", "Miss", "Master", "Dr"}
	firsts    = []string{"Adaeze", "Desmond", "Fatima", "Tomasz", "Grace", "Kwame", "Aisha", "Oliver", "Mei", "Ibrahim", "Siobhan", "Yusuf"}
	surnames  = []string{"Okafor", "Ashworth", "Begum", "Nowak", "Campbell", "Mensah", "Khan", "Smith", "Chen", "Hassan", "Murphy", "Yilmaz"}
	streets   = []string{"Dalston Lane", "Homerton High Street", "Mare Street", "Kingsland Road", "Stoke Newington Road", "Well Street"}
	buildings = []string{"Pembury House", "Nisbet House", "Frampton Park", "Kings Crescent", "Woodberry Down", "Holly Street"}
	assetKind = []string{"Dwelling", "Dwelling", "Dwelling", "Dwelling", "LettableNonDwelling", "Block"}
)

// Generator produces tenure items from a seed.
type Generator struct {
	rng *rand.Rand
}

// NewGenerator returns a generator; the same seed gives the same items.
func NewGenerator(seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// ID returns a GUID-shaped id, deterministic for the generator's sequence.
func (g *Generator) ID() string {
	a, b := g.rng.Uint64(), g.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", uint32(a>>32), uint16(a>>16), uint16(a)&0xfff,
		uint16(b>>48)&0x3fff|0x8000, b&0xffffffffffff)
}

// Item returns the next tenure item.
func (g *Generator) Item() ddbjson.Item {
	return g.ItemWithID(g.ID())
}

// ItemWithID returns a tenure item with the given id.
func (g *Generator) ItemWithID(id string) ddbjson.Item {
	r := g.rng
	tt := tenureTypes[r.IntN(len(tenureTypes))]
	ended := r.IntN(4) == 0
	members := 1 + r.IntN(4)
	var hm []types.AttributeValue
	for i := range members {
		responsible := i == 0
		ptt := "HouseholdMember"
		if responsible {
			ptt = "Tenant"
		}
		hm = append(hm, m(ddbjson.Item{
			"id":               s(g.ID()),
			"type":             s("Person"),
			"fullName":         s(fmt.Sprintf("%s %s %s", pick(r, titles), pick(r, firsts), pick(r, surnames))),
			"isResponsible":    boolean(responsible),
			"dateOfBirth":      s(fmt.Sprintf("%04d-%02d-%02dT00:00:00", 1930+r.IntN(90), 1+r.IntN(12), 1+r.IntN(28))),
			"personTenureType": s(ptt),
		}))
	}
	item := ddbjson.Item{
		"id":               s(id),
		"paymentReference": s(fmt.Sprintf("%010d", r.Int64N(10_000_000_000))),
		"householdMembers": &types.AttributeValueMemberL{Value: hm},
		"tenuredAsset": m(ddbjson.Item{
			"id":                s(g.ID()),
			"type":              s(pick(r, assetKind)),
			"fullAddress":       s(fmt.Sprintf("Flat %d %s %s London E%d %d%s", 1+r.IntN(120), pick(r, buildings), pick(r, streets), 1+r.IntN(9), 1+r.IntN(9), "LQ")),
			"uprn":              s(fmt.Sprintf("1000210%05d", r.IntN(100000))),
			"propertyReference": s(fmt.Sprintf("%08d", r.IntN(100000))),
		}),
		"charges": m(ddbjson.Item{
			"rent":                   n(fmt.Sprintf("%d.%02d", 60+r.IntN(200), r.IntN(100))),
			"currentBalance":         n(fmt.Sprintf("%d.%02d", r.IntN(2000)-500, r.IntN(100))),
			"billingFrequency":       s("Weekly"),
			"serviceCharge":          n(fmt.Sprintf("%d.%02d", r.IntN(40), r.IntN(100))),
			"otherCharges":           n("0"),
			"combinedServiceCharges": n("0"),
			"combinedRentCharges":    n("0"),
			"tenancyInsuranceCharge": n("0"),
			"originalRentCharge":     n("0"),
			"originalServiceCharge":  n("0"),
		}),
		"startOfTenureDate": s(fmt.Sprintf("%04d-%02d-%02dT00:00:00.0000000Z", 1990+r.IntN(34), 1+r.IntN(12), 1+r.IntN(28))),
		"tenureType":        m(ddbjson.Item{"code": s(tt[0]), "description": s(tt[1])}),
		"isTenanted":        boolean(!ended),
		"agreementType":     m(ddbjson.Item{"code": s("M"), "description": s("Master Account")}),
		"successionDate":    null(),
		"evictionDate":      null(),
		"potentialEndDate":  null(),
		"notices":           &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		"legacyReferences": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			m(ddbjson.Item{"name": s("uh_tag_ref"), "value": s(fmt.Sprintf("%06d/01", r.IntN(1000000)))}),
			m(ddbjson.Item{"name": s("u_saff_tenancy"), "value": s(fmt.Sprintf("%08d", r.IntN(100000000)))}),
		}},
		"isMutualExchange":                boolean(r.IntN(20) == 0),
		"informHousingBenefitsForChanges": boolean(false),
		"isSublet":                        boolean(false),
		"subletEndDate":                   null(),
		"versionNumber":                   n(fmt.Sprint(r.IntN(12))),
		"numberOfAdultsInProperty":        n(fmt.Sprint(1 + r.IntN(3))),
		"numberOfChildrenInProperty":      n(fmt.Sprint(members - 1)),
	}
	if ended {
		item["endOfTenureDate"] = s(fmt.Sprintf("%04d-%02d-%02d", 2000+r.IntN(24), 1+r.IntN(12), 1+r.IntN(28)))
		item["terminated"] = m(ddbjson.Item{"isTerminated": boolean(true), "reasonForTermination": s("Deceased")})
	} else {
		item["endOfTenureDate"] = null()
		item["terminated"] = m(ddbjson.Item{"isTerminated": boolean(false)})
	}
	return item
}

// Update returns item changed the way the Tenure API changes tenures: a save
// of the whole object with versionNumber one higher and a new balance, and
// sometimes an ended tenancy.
func (g *Generator) Update(item ddbjson.Item) ddbjson.Item {
	out := make(ddbjson.Item, len(item))
	for k, v := range item {
		out[k] = v
	}
	version := 0
	if v, ok := item["versionNumber"].(*types.AttributeValueMemberN); ok {
		fmt.Sscan(v.Value, &version)
	}
	out["versionNumber"] = n(fmt.Sprint(version + 1))
	if c, ok := item["charges"].(*types.AttributeValueMemberM); ok {
		charges := make(ddbjson.Item, len(c.Value))
		for k, v := range c.Value {
			charges[k] = v
		}
		charges["currentBalance"] = n(fmt.Sprintf("%d.%02d", g.rng.IntN(2000)-500, g.rng.IntN(100)))
		out["charges"] = m(charges)
	}
	if g.rng.IntN(5) == 0 {
		out["endOfTenureDate"] = s(fmt.Sprintf("%04d-%02d-%02dT00:00:00.0000000Z", 2024+g.rng.IntN(3), 1+g.rng.IntN(12), 1+g.rng.IntN(28)))
		out["isTenanted"] = boolean(false)
	}
	return out
}

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

func s(v string) types.AttributeValue       { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue       { return &types.AttributeValueMemberN{Value: v} }
func boolean(v bool) types.AttributeValue   { return &types.AttributeValueMemberBOOL{Value: v} }
func null() types.AttributeValue            { return &types.AttributeValueMemberNULL{Value: true} }
func m(v ddbjson.Item) types.AttributeValue { return &types.AttributeValueMemberM{Value: v} }
