import { getJson } from '../api.ts'
import { apiRange, viewHash, type Filters } from '../filters.ts'
import { chart, el, empty, failure, format, panel, table } from '../ui.ts'

interface Person {
  person_id: string
  identifiers: { identifier: string; kind: string; status: string }[]
  first_seen: string
  last_seen: string
  events: number
  channels: string[]
  orders: number
  revenue: number
  preferred_payment_method: string | null
  price_band: string | null
  favourite_categories: { category: string; items: number }[] | string[]
  consent: Record<string, boolean>
  orders_list: {
    order_key: string
    placed_at: string
    placed_channel: string
    fulfilled_channel: string
    revenue: number
  }[]
  timeline: { event_time: string; channel: string; event_type: string; order_key: string; revenue: number }[]
}

interface ListedPerson {
  person_id: string
  customer_id: string
  first_seen: string
  last_seen: string
  events: number
  channels: string[]
  orders: number
  revenue: number
}

/** Without a search: the customers seen in the range with the most revenue, each a link to their 360. */
async function listPersons(root: HTMLElement, filters: Filters): Promise<void> {
  const params = { ...apiRange(filters), channels: filters.channel || undefined, sort: 'revenue', limit: 50 }
  let persons: ListedPerson[]
  try {
    persons = (await getJson<{ persons: ListedPerson[] }>('/v1/persons', params)).persons
  } catch (error) {
    root.append(failure('the customers of the range', error))
    return
  }
  if (persons.length === 0) {
    root.append(empty(`Nobody was seen between ${filters.from} and ${filters.to}.`))
    return
  }
  const open = (person: ListedPerson) => viewHash('customer', filters, { id: person.person_id })
  const day = (time: string) => time.slice(0, 10)
  root.append(
    panel(
      `Top customers by net revenue, seen between ${filters.from} and ${filters.to}`,
      el('p', { class: 'note' }, 'Figures over each customer’s whole history. Open one to see their timeline.'),
      table(
        'customer-list',
        [
          { label: 'Person', value: (row: ListedPerson) => row.person_id, link: open },
          { label: 'Customer id', value: (row) => row.customer_id || '—' },
          { label: 'Channels', value: (row) => row.channels.join(', ') },
          { label: 'Events', value: (row) => row.events },
          { label: 'Orders', value: (row) => row.orders },
          { label: 'Net revenue', value: (row) => row.revenue },
          { label: 'First seen', value: (row) => day(row.first_seen) },
          { label: 'Last seen', value: (row) => day(row.last_seen) },
        ],
        persons,
        { path: '/v1/persons', params, filename: 'customers.csv' },
      ),
    ),
  )
}

/** Customer 360: search by any identifier (kind:value) and see the person across every channel. */
export async function customerPage(root: HTMLElement, filters: Filters, extra: URLSearchParams): Promise<void> {
  const asked = extra.get('id') ?? ''
  const input = el('input', {
    name: 'id',
    value: asked,
    size: '42',
    placeholder: 'customer:C-1001, email:anna@example.com, card:2770…, phone:+7…, order:…',
  })
  const form = el(
    'form',
    { 'data-search': '' },
    el('label', {}, 'Identifier ', input),
    ' ',
    el('button', { type: 'submit' }, 'Find'),
  )
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    window.location.hash = viewHash('customer', filters, { id: input.value.trim() })
  })
  root.replaceChildren(
    panel(
      'Find a customer',
      form,
      el(
        'p',
        {},
        'E-mails and phone numbers are hashed before the lookup, exactly as at capture; they are not stored.',
      ),
    ),
  )
  if (asked === '') {
    await listPersons(root, filters)
    return
  }
  let person: Person
  try {
    person = await getJson<Person>(`/v1/persons/${encodeURIComponent(asked)}`)
  } catch (error) {
    root.append(failure(`the customer ${asked}`, error))
    return
  }
  const timeline = [...person.timeline].reverse()
  const channels = [...new Set(timeline.map((event) => event.channel))].sort()
  const categories = person.favourite_categories.map((item) => (typeof item === 'string' ? item : item.category))
  const consent = Object.entries(person.consent)
    .map(([name, given]) => `${name}: ${given ? 'yes' : 'no'}`)
    .join(', ')
  root.append(
    panel(
      `Person ${person.person_id}`,
      el(
        'dl',
        { class: 'notes', 'data-person': person.person_id },
        el('dt', {}, 'Channels'),
        el('dd', { 'data-field': 'channels' }, person.channels.join(', ')),
        el('dt', {}, 'Seen'),
        el('dd', {}, `${person.first_seen} to ${person.last_seen}: ${format.integer(person.events)} events`),
        el('dt', {}, 'Orders'),
        el('dd', {}, `${format.integer(person.orders)}, ${format.money(person.revenue)} net`),
        el('dt', {}, 'Preferred payment, price band'),
        el('dd', {}, `${person.preferred_payment_method ?? '—'}, ${person.price_band ?? '—'}`),
        el('dt', {}, 'Favourite categories'),
        el('dd', {}, categories.join(', ') || '—'),
        el('dt', {}, 'Consent'),
        el('dd', {}, consent || '—'),
        el('dt', {}, 'Identifiers'),
        el('dd', {}, person.identifiers.map((item) => `${item.identifier} (${item.status})`).join(', ')),
      ),
    ),
  )
  if (timeline.length === 0) {
    root.append(empty('No events are stored for this person.'))
    return
  }
  root.append(
    panel(
      'Timeline across channels',
      chart(
        'customer-timeline',
        {
          tooltip: { trigger: 'item' },
          grid: { left: 100 },
          xAxis: { type: 'time' },
          yAxis: { type: 'category', data: channels },
          dataZoom: [{ type: 'inside' }, { type: 'slider' }],
          series: [
            {
              type: 'scatter',
              symbolSize: 10,
              data: timeline.map((event) => ({
                value: [event.event_time, event.channel],
                name: `${event.event_type}${event.order_key === '' ? '' : ` ${event.order_key}`}`,
              })),
            },
          ],
        },
        timeline.length,
      ),
      table(
        'customer-events',
        [
          { label: 'Time', value: (row: Person['timeline'][number]) => row.event_time },
          { label: 'Channel', value: (row) => row.channel },
          { label: 'Event', value: (row) => row.event_type },
          { label: 'Order', value: (row) => row.order_key },
          { label: 'Revenue', value: (row) => row.revenue },
        ],
        person.timeline,
        { filename: 'customer-timeline.csv' },
      ),
    ),
  )
}
